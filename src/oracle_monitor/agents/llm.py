"""LLM calls of an agent, through the official `openai` or `anthropic` SDK.

The base URL is the LLM proxy's (or a provider's). Every request carries the agent's trace
context and an ``x-oracle-agent`` header naming the agent, so the proxy's span of it (the LLM
span of record behind a proxy) joins the agent's trace. Without a proxy, the agent's own
instrumentation (``ORACLE_AGENT_INSTRUMENT_LLM``, on by default) makes the GenAI spans; behind
the proxy turn it off, or each call is recorded, and its tokens counted, twice. The SDK's own
retries (``ORACLE_AGENT_LLM_MAX_RETRIES``) happen inside `LLMClient.complete`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import openai
from opentelemetry import propagate

from oracle_monitor.agents.settings import AgentSettings

if TYPE_CHECKING:
    import anthropic

__all__ = [
    "Completion",
    "LLMClient",
    "LLMConfigurationError",
    "is_llm_error",
    "retry_after_seconds",
]

AGENT_HEADER = "x-oracle-agent"


class LLMConfigurationError(ValueError):
    """The SDK client cannot be made (no API key): the agent cannot start."""


@dataclass(frozen=True, slots=True)
class Completion:
    """What the model said, and what it cost in tokens."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int


class LLMClient:
    """One SDK client for the agent's provider; `complete` asks one question."""

    def __init__(self, settings: AgentSettings, agent_name: str) -> None:
        self.provider = settings.provider
        self.model = settings.llm_model
        self._max_tokens = settings.llm_max_tokens
        headers = {AGENT_HEADER: agent_name}
        self._openai: openai.OpenAI | None = None
        self._anthropic: anthropic.Anthropic | None = None
        if self.provider == "openai":
            try:
                self._openai = openai.OpenAI(
                    base_url=settings.openai_base_url,
                    timeout=settings.llm_timeout_seconds,
                    max_retries=settings.llm_max_retries,
                    default_headers=headers,
                )
            except openai.OpenAIError as error:  # the key is missing
                raise LLMConfigurationError(str(error)) from error
        else:
            import anthropic  # imported only when used: it takes a second or two

            self._anthropic = anthropic.Anthropic(
                base_url=settings.anthropic_base_url,
                timeout=settings.llm_timeout_seconds,
                max_retries=settings.llm_max_retries,
                default_headers=headers,
            )
            if self._anthropic.api_key is None and self._anthropic.auth_token is None:
                raise LLMConfigurationError(
                    "The api_key client option must be set either by passing api_key to the "
                    "client or by setting the ANTHROPIC_API_KEY environment variable"
                )

    def complete(self, prompt: str, *, system: str = "") -> Completion:
        """Ask the model; raises (`is_llm_error`) once the SDK's retries are spent.

        The request carries the current trace context (``traceparent``, ``baggage``), so an
        LLM proxy's span of it joins the agent's trace under the current span.
        """
        context: dict[str, str] = {}
        propagate.inject(context)
        if self._openai is not None:
            messages: list[openai.types.chat.ChatCompletionMessageParam] = []
            if system:
                messages.append({"role": "system", "content": system})
            messages.append({"role": "user", "content": prompt})
            chat = self._openai.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=self._max_tokens,
                extra_headers=context,
            )
            usage = chat.usage
            return Completion(
                chat.choices[0].message.content or "" if chat.choices else "",
                chat.model,
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
            )
        assert self._anthropic is not None
        message = self._anthropic.messages.create(
            model=self.model,
            max_tokens=self._max_tokens,
            messages=[{"role": "user", "content": prompt}],
            system=system or sys.modules["anthropic"].omit,
            extra_headers=context,
        )
        text = "".join(block.text for block in message.content if block.type == "text")
        return Completion(
            text, message.model, message.usage.input_tokens, message.usage.output_tokens
        )

    def close(self) -> None:
        """Close the SDK's HTTP connections."""
        if self._openai is not None:
            self._openai.close()
        if self._anthropic is not None:
            self._anthropic.close()


def is_llm_error(error: BaseException) -> bool:
    """Whether ``error`` is a failed LLM call (rate limit, timeout, connection, status)."""
    if isinstance(error, openai.APIError):
        return True
    module = sys.modules.get("anthropic")
    return module is not None and isinstance(error, module.APIError)


def retry_after_seconds(error: BaseException) -> float | None:
    """The ``retry-after`` (or ``retry-after-ms``) a provider sent with a failed call."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None
