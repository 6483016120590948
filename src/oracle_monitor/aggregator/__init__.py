"""The aggregator's causal-chain engine: pure functions from spans and events to a chain.

`build_causal_chain` takes the spans of one trace or task and the infrastructure events near
them, keeps the events that correlate (`correlate`), finds the problems (`links`) and connects
them by the rules listed in `oracle_monitor.aggregator.causal`.
"""

from oracle_monitor.aggregator.causal import (
    RULES,
    CausalChain,
    ChainLink,
    build_causal_chain,
)
from oracle_monitor.aggregator.correlate import ChainConfig, Correlation, correlate

__all__ = [
    "RULES",
    "CausalChain",
    "ChainConfig",
    "ChainLink",
    "Correlation",
    "build_causal_chain",
    "correlate",
]
