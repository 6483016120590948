"""The embedded store's write of a span, in process: CPU time per span of
``SQLiteStore.write_spans`` (PostgreSQL's writer spends most of its time in the server:
``bench/ingest.py --store postgresql://…`` reports the server's CPU too).

The spans of `workload` requests (ten-span agent traces, batches of 512) are decoded before
the clock starts, then written into a fresh store, twice over:

* *named*: as sent, every span naming its agent and task (no attribution by hierarchy);
* *settled*: the same spans with only each trace's root naming them, the roots sent one batch
  after their children, so every child waits for its agent and is attributed when it comes
  (what frameworks that name the agent only on its own span, ended last, produce).

Each figure is the minimum and median of ``--runs`` runs (the machine is shared: the minimum
carries over best). Usage: ``python bench/store_write.py [--traces 3000] [--runs 7]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for the shared workload

from oracle_monitor.model import Span
from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from oracle_monitor.store import open_store
from workload import requests


def decoded(traces: int) -> list[list[Span]]:
    """The workload's requests as decoded span batches."""
    return [
        decode_protobuf(request.SerializeToString(), DecodeLimits()).spans
        for request in requests(traces)
    ]


def settled(batches: Sequence[Sequence[Span]]) -> list[list[Span]]:
    """The batches with only the roots naming agent and task, each root one batch late."""
    out: list[list[Span]] = []
    held: list[Span] = []
    for batch in batches:
        children = [
            dataclasses.replace(s, agent_name=None, task_id=None) for s in batch if s.parent_span_id
        ]
        out.append(children + held)
        held = [s for s in batch if not s.parent_span_id]
    out.append(held)
    return out


def cpu_per_span(batches: Sequence[Sequence[Span]], url: str) -> float:
    """µs of CPU per span to write ``batches`` into the store at ``url``."""
    store = open_store(url)
    try:
        spans = sum(len(batch) for batch in batches)
        started = time.process_time()
        for batch in batches:
            store.write_spans(batch)
        return (time.process_time() - started) / spans * 1e6
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    named = decoded(args.traces)
    for label, batches in (("named", named), ("settled", settled(named))):
        figures = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                figures.append(cpu_per_span(batches, f"sqlite:///{tmp}/spans.db"))
        print(
            f"{label:8s} µs CPU per span: min {min(figures):5.1f}"
            f"  median {statistics.median(figures):5.1f}"
        )


if __name__ == "__main__":
    main()
