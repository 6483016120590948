"""Oracle Monitor: observability backend for multi-agent AI systems."""

__version__ = "0.1.0"
