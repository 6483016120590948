"""The price table: snapshot names, each provider's way of counting cached tokens, overrides;
the processor that prices a batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle_monitor.model import Span, SpanKind
from oracle_monitor.processing.pricing import Pricing, load_prices, price_spans

TABLE = load_prices()


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o", "gpt-4o"),
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longest name wins
        ("OpenAI", "openai/GPT-4o", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("openai", "gpt-4oops", None),  # a prefix must end at a dash
        ("openai", "llama-3-70b", None),
        ("mistral", "mistral-large", None),
    ],
)
def test_model_names_match_their_snapshots(provider: str, model: str, expected: str | None) -> None:
    price = TABLE.price_of(provider, model)
    if expected is None:
        assert price is None
    else:
        assert (
            price
            == TABLE.providers["openai" if "gpt" in expected else "anthropic"].models[expected]
        )


def test_openai_counts_cached_tokens_inside_input() -> None:
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output per million tokens.
    cost = TABLE.cost_usd(
        "openai", "gpt-4o", input_tokens=1_000_000, output_tokens=100_000,
        cache_read_tokens=400_000,
    )  # fmt: skip
    assert cost == pytest.approx(0.6 * 2.50 + 0.4 * 1.25 + 0.1 * 10.00)


def test_anthropic_spans_count_the_whole_prompt_as_input() -> None:
    # claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache write, $15 output. The span's
    # input_tokens (3.1M) is the whole prompt: 1M fresh + 2M read from cache + 0.1M written.
    cost = TABLE.cost_usd(
        "anthropic", "claude-sonnet-4-5-20250929", input_tokens=3_100_000,
        output_tokens=200_000, cache_read_tokens=2_000_000, cache_creation_tokens=100_000,
    )  # fmt: skip
    assert cost == pytest.approx(3.00 + 2 * 0.30 + 0.1 * 3.75 + 0.2 * 15.00)


def test_unknown_models_are_unpriced_not_free() -> None:
    assert TABLE.cost_usd("openai", "gpt-unknown", input_tokens=10, output_tokens=5) is None
    assert TABLE.cost_usd("openai", "gpt-4o", input_tokens=None, output_tokens=None) is None
    assert TABLE.cost_usd(None, "gpt-4o", input_tokens=10, output_tokens=5) is None


def test_a_file_extends_and_overrides_the_shipped_table(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text(
        'as_of = "2026-11-01"\n'
        "[providers.openai.models]\n"
        '"gpt-4o" = { input = 1.0, output = 2.0 }\n'
        "[providers.local]\n"
        "input_includes_cached = true\n"
        "[providers.local.models]\n"
        '"llama-3" = { input = 0.1, output = 0.2 }\n'
    )
    table = load_prices(override)
    assert table.as_of == "2026-11-01"
    assert table.cost_usd("openai", "gpt-4o", input_tokens=10**6, output_tokens=0) == 1.0
    assert table.cost_usd("local", "llama-3-8b", input_tokens=0, output_tokens=10**6) == 0.2
    # Models the file does not name keep their shipped prices.
    assert table.price_of("openai", "gpt-4o-mini") == TABLE.price_of("openai", "gpt-4o-mini")
    assert table.providers["openai"].input_includes_cached is True


@pytest.mark.parametrize(
    "content",
    ["not toml [", '[providers.x.models]\n"m" = { inputs = 1 }\n', "[providers.x]\n"],
)
def test_a_bad_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    override = tmp_path / "prices.toml"
    override.write_text(content)
    with pytest.raises(ValueError, match=str(override)):
        load_prices(override)


def test_price_spans_fills_only_missing_costs() -> None:
    def llm_span(**fields: object) -> Span:
        return Span("a" * 32, "b" * 16, "", "chat", SpanKind.CLIENT, 1, 2, **fields)  # type: ignore[arg-type]

    own = llm_span(provider="openai", model="gpt-4o", input_tokens=10, cost_usd=9.0)
    priced = llm_span(provider="openai", model="gpt-4o", input_tokens=1_000_000, output_tokens=0)
    unknown = llm_span(provider="openai", model="mystery", input_tokens=10)
    price_spans([own, priced, unknown], TABLE)
    assert own.cost_usd == 9.0
    assert priced.cost_usd == pytest.approx(2.50)
    assert unknown.cost_usd is None


def test_the_pricing_processor_prices_a_whole_batch() -> None:
    spans = [
        Span("a" * 32, f"{n:016x}", "", "chat", SpanKind.CLIENT, 1, 2, provider="openai",
             model="gpt-4o", input_tokens=1_000_000, output_tokens=0)
        for n in range(1, 4)
    ]  # fmt: skip
    Pricing(TABLE).process(spans)
    assert [span.cost_usd for span in spans] == [pytest.approx(2.50)] * 3
