"""The provider wire formats the scripted server speaks, one module per dialect.

A new provider adds one module here that calls :func:`register` with its
:class:`WireFormat`, and one import line below.
"""

from . import anthropic, bedrock, gemini, mistral, openai_chat, openai_responses
from ._base import (
    DEFAULT_MODEL,
    SYSTEM_FINGERPRINT,
    WIRE_FORMATS,
    Event,
    Parsed,
    PathRoute,
    Turn,
    WireFormat,
    register,
)

__all__ = [
    "DEFAULT_MODEL",
    "SYSTEM_FINGERPRINT",
    "WIRE_FORMATS",
    "Event",
    "Parsed",
    "PathRoute",
    "Turn",
    "WireFormat",
    "anthropic",
    "bedrock",
    "gemini",
    "mistral",
    "openai_chat",
    "openai_responses",
    "register",
]
