"""The LLM proxy: an OpenAI- and Anthropic-compatible pass-through that traces every call.

`app.LLMProxy` is the ASGI application; ``oracle-monitor proxy`` serves it
(`oracle_monitor.roles.proxy`). It sits in front of the providers, upstream of the receivers:
its spans reach Oracle Monitor (or any OTLP backend) like an agent's.
"""

from oracle_monitor.proxy.app import LLMProxy

__all__ = ["LLMProxy"]
