"""``configure()``: tracer provider, processors, store exporter and instrumentors in one call.

import agentel.sdk
agentel.sdk.configure()          # spans of every instrumented library -> sqlite:///agentel.db
"""

from agentel.sdk._configure import Handle, configure

__all__ = ["Handle", "configure"]
