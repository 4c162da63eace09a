"""OpenTelemetry span exporters that write agentel run and trace stores."""
