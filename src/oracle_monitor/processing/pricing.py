"""What an LLM call cost, from a table of the providers' published prices.

The table ships in the package (``prices.toml``, with the date of its prices); a user extends
or overrides it with a file of the same shape named by ``ORACLE_PRICING_FILE``, whose models
replace or add to the shipped ones. A model the table does not know is *unpriced*: its cost
is ``None``, never zero, so totals can say how many calls they leave out.

`Pricing` is the span path's ``pricing`` processor; the LLM proxy prices its own spans with
`PriceTable.cost_usd`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from oracle_monitor.config import Settings
from oracle_monitor.model import Span
from oracle_monitor.pipeline.components import ChainContext, Factory

PER_TOKENS = 1_000_000


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """US dollars per million tokens of each kind."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True, slots=True)
class ProviderPrices:
    """One provider's models, and how it counts cached input tokens."""

    input_includes_cached: bool
    models: dict[str, ModelPrice] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices by provider and model; `cost_usd` prices one call."""

    as_of: str
    providers: dict[str, ProviderPrices]

    def price_of(self, provider: str, model: str) -> ModelPrice | None:
        """The price of ``model`` or of the longest model name it is a snapshot of."""
        prices = self.providers.get(provider.lower())
        if prices is None:
            return None
        name = model.lower().rsplit("/", 1)[-1]  # "openai/gpt-4o" → "gpt-4o"
        if name in prices.models:
            return prices.models[name]
        best = max(
            (known for known in prices.models if name.startswith(known + "-")),
            key=len,
            default=None,
        )
        return prices.models[best] if best is not None else None

    def cost_usd(
        self,
        provider: str | None,
        model: str | None,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read_tokens: int | None = None,
        cache_creation_tokens: int | None = None,
    ) -> float | None:
        """The call's cost in US dollars, or ``None`` when the model is unpriced or no
        tokens were counted. Token counts are as the provider reports them."""
        if not provider or not model or (input_tokens is None and output_tokens is None):
            return None
        price = self.price_of(provider, model)
        if price is None:
            return None
        read, written = cache_read_tokens or 0, cache_creation_tokens or 0
        uncached = input_tokens or 0
        if self.providers[provider.lower()].input_includes_cached:
            uncached = max(uncached - read - written, 0)
        cached_price = price.input if price.cached_input is None else price.cached_input
        write_price = price.input if price.cache_write is None else price.cache_write
        dollars = (
            uncached * price.input
            + read * cached_price
            + written * write_price
            + (output_tokens or 0) * price.output
        )
        return dollars / PER_TOKENS


def _providers(document: dict[str, Any], origin: str) -> dict[str, ProviderPrices]:
    providers: dict[str, ProviderPrices] = {}
    for name, body in document.get("providers", {}).items():
        try:
            models = {
                model.lower(): ModelPrice(**prices) for model, prices in body["models"].items()
            }
            providers[name.lower()] = ProviderPrices(
                bool(body.get("input_includes_cached", False)), models
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"{origin}: provider {name!r} is malformed: {error}") from error
    return providers


def load_prices(override: Path | None = None) -> PriceTable:
    """The shipped table, with the models of ``override`` (a TOML file) added or replaced."""
    shipped_text = resources.files(__package__).joinpath("prices.toml").read_text()
    shipped = tomllib.loads(shipped_text)
    providers = _providers(shipped, "prices.toml")
    as_of = str(shipped["as_of"])
    if override is not None:
        try:
            document = tomllib.loads(override.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"cannot read the pricing file {override}: {error}") from error
        for name, extra in _providers(document, str(override)).items():
            base = providers.get(name)
            if base is None:
                providers[name] = extra
            else:
                providers[name] = ProviderPrices(
                    extra.input_includes_cached
                    if "input_includes_cached" in document["providers"][name]
                    else base.input_includes_cached,
                    {**base.models, **extra.models},
                )
        as_of = str(document.get("as_of", as_of))
    return PriceTable(as_of, providers)


def price_spans(spans: Iterable[Span], table: PriceTable) -> None:
    """Fill in ``cost_usd`` of LLM call spans that carry token counts but no cost of their own."""
    for span in spans:
        if span.cost_usd is None and span.provider is not None and span.model is not None:
            span.cost_usd = table.cost_usd(
                span.provider,
                span.model,
                input_tokens=span.input_tokens,
                output_tokens=span.output_tokens,
                cache_read_tokens=span.cache_read_tokens,
                cache_creation_tokens=span.cache_creation_tokens,
            )


class Pricing:
    """The ``pricing`` processor: prices the LLM calls of a batch (`price_spans`)."""

    def __init__(self, table: PriceTable) -> None:
        self.table = table

    def process(self, batch: list[Span]) -> None:
        """Fill in ``cost_usd`` where `price_spans` would."""
        price_spans(batch, self.table)


def _config(settings: Settings) -> PriceTable:
    # The table itself is the config: read once at start-up, so a bad ORACLE_PRICING_FILE
    # stops the role there, and sent whole to the processes that run the chain.
    return load_prices(settings.ingest.pricing_file)


def _create(table: PriceTable, _context: ChainContext) -> Pricing:
    return Pricing(table)


FACTORY = Factory(_config, _create)
