"""``configure()``: tracer provider, processors, store exporter and instrumentors in one call.

import agentel.sdk
agentel.sdk.configure()          # spans of every instrumented library -> sqlite:///agentel.db
agentel.sdk.feedback(run_id, 1.0, comment="great answer")   # now, or later from anywhere
"""

from agentel.sdk._configure import Handle, configure
from agentel.sdk._feedback import feedback

__all__ = ["Handle", "configure", "feedback"]
