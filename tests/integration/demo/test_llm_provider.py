"""The local LLM provider's realistic mode, through the official `openai` and `anthropic` SDKs.

No hosted LLM can be reached here; the provider speaks both wire protocols, and these tests
check what the SDKs see: answers made from the prompt, usage, rate limits and quota.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import anthropic
import openai
import pytest

from oracle_monitor.demo.llm_provider import LLMProvider, RateLimit, running_llm_provider
from oracle_monitor.demo.llm_text import tokens_in

pytestmark = pytest.mark.integration
QUESTION = "How fast is solar power growing in Europe, and what limits battery storage?"


@pytest.fixture
def provider() -> Iterator[LLMProvider]:
    with running_llm_provider(realistic=True, latency_scale=0.0) as running:
        yield running


def test_answers_are_made_from_the_prompt_with_usage(provider: LLMProvider) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=provider.openai_base_url, max_retries=0)
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}]
    )
    again = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}]
    )
    text = answer.choices[0].message.content or ""
    assert any(word in text for word in ("solar", "battery", "storage", "europe", "limits"))
    assert text == again.choices[0].message.content
    assert answer.model == "gpt-4o-mini"
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == tokens_in(QUESTION)
    assert 5 < answer.usage.completion_tokens < 200
    assert provider.tokens_used == 2 * answer.usage.total_tokens


def test_streams_carry_the_same_answer_and_usage(provider: LLMProvider) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=provider.base_url, max_retries=0)
    whole = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
    )
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    first = whole.content[0]
    assert isinstance(first, anthropic.types.TextBlock)
    assert streamed == first.text
    assert final.usage.output_tokens == whole.usage.output_tokens <= 100


def test_a_burst_exhausts_the_request_window(provider: LLMProvider) -> None:
    provider.rate_limit = RateLimit(requests=3, window_s=2.0)
    client = openai.OpenAI(api_key="sk-test", base_url=provider.openai_base_url, max_retries=0)
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi there"}]}
    for _ in range(3):
        client.chat.completions.create(**ask)  # type: ignore[call-overload]
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**ask)  # type: ignore[call-overload]
    headers = caught.value.response.headers
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(headers["retry-after"]) <= 2
    assert caught.value.code == "rate_limit_exceeded"
    assert "gpt-4o-mini" in str(caught.value) and "Limit 3, Used 3" in str(caught.value)
    time.sleep(2.05)  # the window slides: calls go through again
    client.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert provider.counts["rate_limited"] == 1


def test_a_long_prompt_exhausts_the_token_window(provider: LLMProvider) -> None:
    provider.rate_limit = RateLimit(requests=100, window_s=60.0, tokens=2_000)
    client = openai.OpenAI(api_key="sk-test", base_url=provider.openai_base_url, max_retries=0)
    short = [{"role": "user", "content": "summarise solar power"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=short)  # type: ignore[arg-type]
    long = [{"role": "user", "content": "context " * 1200}]
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=long)  # type: ignore[arg-type]


def test_an_exhausted_quota_is_insufficient_quota(provider: LLMProvider) -> None:
    provider.quota_tokens = 0
    client = openai.OpenAI(api_key="sk-test", base_url=provider.openai_base_url, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "insufficient_quota"
    claude = anthropic.Anthropic(api_key="sk-ant-test", base_url=provider.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="credit balance"):
        claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
