"""The ``agentel`` command: a thin layer over :mod:`agentel.store`."""
