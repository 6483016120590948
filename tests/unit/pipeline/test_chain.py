"""A chain runs its parts in order, on whole batches, and stops them in the order that flushes.

The parts are in-process fakes that log what they are given, so the order of the calls is
what the test reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from oracle_monitor.pipeline.chain import Chain
from oracle_monitor.pipeline.components import JSON, PROTOBUF, Decoded
from oracle_monitor.receiver.decode import MalformedRequest


class Log:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []


class Decoder:
    def __init__(self, log: Log) -> None:
        self.log = log

    def decode(self, encoding: int, body: bytes) -> Decoded[str]:
        self.log.calls.append(("decode", encoding))
        if body == b"garbage":
            raise MalformedRequest("not a request")
        items = body.decode().split(",")
        return Decoded(items, len(items), 0, "")


class Suffix:
    """A processor that appends its mark to every item of the batch, in place."""

    def __init__(self, log: Log, mark: str) -> None:
        self.log, self.mark = log, mark

    def process(self, batch: list[str]) -> None:
        self.log.calls.append((f"process {self.mark}", list(batch)))
        batch[:] = [item + self.mark for item in batch]


class Exporter:
    def __init__(self, log: Log, name: str, fail: bool = False) -> None:
        self.log, self.name, self.fail = log, name, fail

    def export(self, batch: Sequence[str]) -> None:
        self.log.calls.append((f"export {self.name}", list(batch)))
        if self.fail:
            raise ConnectionError("the store went away")

    def submit(self, batch: Sequence[str]) -> None:
        self.log.calls.append((f"submit {self.name}", list(batch)))

    def shutdown(self) -> None:
        self.log.calls.append((f"shutdown {self.name}", None))
        if self.fail:
            raise RuntimeError("shutdown failed")


def chain(log: Log, *, durable_fails: bool = False, forward_fails: bool = False) -> Chain[str]:
    return Chain(
        Decoder(log),
        (Suffix(log, "+a"), Suffix(log, "+b")),
        Exporter(log, "durable", fail=durable_fails),
        (Exporter(log, "forward", fail=forward_fails), Exporter(log, "second")),
    )


def test_a_batch_goes_through_every_part_in_order() -> None:
    log = Log()
    spans = chain(log)
    batch = spans.decode(PROTOBUF, b"x,y").items + spans.decode(JSON, b"z").items
    spans.process(batch)
    spans.export(batch)
    spans.after_export(batch)
    assert log.calls == [
        ("decode", PROTOBUF),
        ("decode", JSON),
        ("process +a", ["x", "y", "z"]),  # each processor once, on the whole batch
        ("process +b", ["x+a", "y+a", "z+a"]),
        ("export durable", ["x+a+b", "y+a+b", "z+a+b"]),
        ("submit forward", ["x+a+b", "y+a+b", "z+a+b"]),
        ("submit second", ["x+a+b", "y+a+b", "z+a+b"]),
    ]


def test_malformed_requests_and_failed_exports_reach_the_receiver() -> None:
    log = Log()
    spans = chain(log, durable_fails=True)
    with pytest.raises(MalformedRequest):
        spans.decode(PROTOBUF, b"garbage")
    with pytest.raises(ConnectionError):
        spans.export(["x"])
    assert not any(name.startswith("submit") for name, _ in log.calls)


def test_shutdown_flushes_the_best_effort_exporters_before_the_durable_one() -> None:
    log = Log()
    chain(log, forward_fails=True).shutdown()
    assert [name for name, _ in log.calls] == [
        "shutdown forward",  # fails, and the others still stop
        "shutdown second",
        "shutdown durable",
    ]
