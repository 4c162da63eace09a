"""agentel's vocabulary: attribute keys, operation names, normalization and pricing.

This package imports nothing else from agentel, so every other layer can depend on it.
"""
