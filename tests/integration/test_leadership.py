"""Snapshot leadership on the real PostgreSQL: real processes contend for the advisory lock,
exactly one writes snapshots at a time, a SIGKILLed or stopped leader is replaced within about
one interval, and a leader whose lock connection is terminated stops its duties."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest

from oracle_monitor.aggregator.leadership import Leadership, LeadershipConfig, lock_ids
from oracle_monitor.store import open_store
from tests.integration.postgres import admin_connection, fresh_store_url
from tests.waiting import wait_for, wait_for_async

ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 0.5
# One interval for the last snapshot before the kill, one retry of the followers, the new
# term's start (restoring alerts) and a loaded 2-core machine.
GAP_BOUND_S = INTERVAL_S + INTERVAL_S + 2.0


@pytest.fixture
def store_url() -> Iterator[str]:
    for url in fresh_store_url():
        open_store(url).close()  # the schema exists before anyone contends
        yield url


class Contender:
    """A `tests.integration.leader_worker` process and the facts it printed."""

    def __init__(self, url: str, holder: str) -> None:
        self.holder = holder
        self.facts: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.leader_worker", url, holder,
             str(INTERVAL_S)],
            cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.facts.append(orjson.loads(line))

    def snapshots(self) -> list[tuple[int, float]]:
        """(timestamp_ns, wall time printed) of each snapshot it stored."""
        return [(f["snapshot"], f["t"]) for f in list(self.facts) if "snapshot" in f]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(5)


def lock_holders(key: int) -> list[str]:
    """application_name of the sessions holding the advisory lock ``key`` (from pg_locks)."""
    classid, objid = lock_ids(key)
    with admin_connection() as conn:
        rows = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid::bigint = %s AND l.objid::bigint = %s",
            (classid, objid),
        ).fetchall()
    return [str(row[0]) for row in rows]


def stored_snapshots(url: str) -> list[int]:
    store = open_store(url)
    try:
        return [ts for ts, _ in store.snapshot_series(0, time.time_ns() + 10**10, 1)]
    finally:
        store.close()


def leader_of(contenders: list[Contender], since_ns: int = 0) -> Contender | None:
    writing = [c for c in contenders if any(ts > since_ns for ts, _ in c.snapshots())]
    assert len(writing) <= 1, f"two writers: {[c.holder for c in writing]}"
    return writing[0] if writing else None


def test_one_leader_at_a_time_and_takeover_within_an_interval(store_url: str) -> None:
    contenders = [Contender(store_url, f"contender-{n}") for n in range(3)]
    try:
        wait_for(lambda: leader_of(contenders) is not None, 60, "a first snapshot")
        time.sleep(2.0)  # everyone has started and contended by now
        first = leader_of(contenders)
        assert first is not None and len(first.snapshots()) >= 3
        key = next(f["ready"] for f in first.facts if "ready" in f)
        assert lock_holders(key) == [f"oracle-monitor leader {first.holder}"]

        # SIGKILL: the kernel closes its connection, the server frees the lock.
        last_before = max(ts for ts, _ in first.snapshots())
        killed_at = time.time()
        first.process.send_signal(signal.SIGKILL)
        wait_for(lambda: leader_of(contenders, last_before) is not None, 30, "a new leader")
        second = leader_of(contenders, last_before)
        assert second is not None and second is not first
        first_after, printed_at = min(second.snapshots())
        gap_s = (first_after - last_before) / 1e9
        print(f"SIGKILL: snapshot gap {gap_s:.3f} s, takeover {printed_at - killed_at:.3f} s")
        assert gap_s < GAP_BOUND_S
        wait_for(lambda: lock_holders(key) == [f"oracle-monitor leader {second.holder}"], 5,
                 "pg_locks to show the new leader")  # fmt: skip

        # SIGTERM: a clean stop ends the term and gives the lock up at once.
        time.sleep(1.5)
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(15) == 0
        assert second.facts[-1]["term"] == "end"
        last_second = max(ts for ts, _ in second.snapshots())
        wait_for(lambda: leader_of(contenders, last_second) is not None, 30, "a third leader")
        third = leader_of(contenders, last_second)
        assert third is not None and third not in (first, second)
        gap_s = (min(third.snapshots())[0] - last_second) / 1e9
        print(f"SIGTERM: snapshot gap {gap_s:.3f} s")
        assert gap_s < GAP_BOUND_S
        time.sleep(1.0)
    finally:
        for contender in contenders:
            contender.stop()

    # Every stored snapshot was written by one leader, and the leaders' runs do not interleave.
    by_ts = {ts: c.holder for c in contenders for ts, _ in c.snapshots()}
    stored = stored_snapshots(store_url)
    unattributed = [ts for ts in stored if ts not in by_ts]
    # The killed leader may have stored one between its write and its print.
    assert len(unattributed) <= 1, unattributed
    assert all(abs(ts / 1e9 - killed_at) < 1.0 for ts in unattributed)
    assert set(by_ts) <= set(stored)
    runs = [holder for n, (_, holder) in enumerate(sorted(by_ts.items()))
            if n == 0 or holder != sorted(by_ts.items())[n - 1][1]]  # fmt: skip
    assert runs == [first.holder, second.holder, third.holder]

    # Each term started after the previous leader's last snapshot (SIGKILL) or its end (SIGTERM).
    def term_starts(contender: Contender) -> list[float]:
        return [f["t"] for f in contender.facts if f.get("term") == "start"]

    assert max(term_starts(second)) > max(t for _, t in first.snapshots())
    second_end = max(f["t"] for f in second.facts if f.get("term") == "end")
    assert max(term_starts(third)) > second_end
    assert min(t for _, t in third.snapshots()) > second_end


class Recorder:
    """Duties that record when each term starts and ends (no real work)."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        self.starts.append(time.monotonic())
        try:
            yield
        finally:
            self.ends.append(time.monotonic())


def config(url: str, holder: str) -> LeadershipConfig:
    return LeadershipConfig(store_url=url, holder=holder, retry_s=0.3, check_s=0.2, keepalive_s=2.0)


async def test_a_leader_whose_connection_is_terminated_stops_its_duties(store_url: str) -> None:
    leadership = Leadership(config(store_url, "terminated"))
    duties = Recorder()
    stop = asyncio.Event()
    task = asyncio.create_task(leadership.run(duties, stop))
    try:
        await wait_for_async(lambda: leadership.is_leader, 10, "leadership")
        assert leadership.stats()["role"] == "leader"
        with admin_connection() as conn:
            (count,) = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (leadership.application_name,),
            ).fetchone() or (0,)
        terminated = time.monotonic()
        assert count == 1
        await wait_for_async(lambda: duties.ends, 5, "the duties to stop")
        stopped_after = duties.ends[0] - terminated
        print(f"duties stopped {stopped_after:.3f} s after pg_terminate_backend")
        assert stopped_after < 0.2 + 1.0  # one check interval and slack
        assert leadership.lost == 1 and "lock connection failed" in leadership.last_error
        # It contends again (nobody else does) and leads a second term.
        await wait_for_async(
            lambda: len(duties.starts) == 2 and leadership.is_leader, 10, "a new term"
        )
        assert leadership.terms == 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert len(duties.ends) == 2 and not leadership.is_leader
    assert lock_holders(leadership.key) == []  # given up on stop


async def test_contenders_share_a_lock_per_schema_and_tenant(store_url: str) -> None:
    other_tenant = store_url + "&tenant=acme"
    a, b = Leadership(config(store_url, "a")), Leadership(config(store_url, "b"))
    c = Leadership(config(other_tenant, "c"))
    recorders = [Recorder(), Recorder(), Recorder()]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(x.run(r, stop)) for x, r in zip((a, b, c), recorders, strict=True)]
    try:
        await wait_for_async(
            lambda: (a.is_leader or b.is_leader) and c.is_leader, 10, "two leaders"
        )
        await asyncio.sleep(1.0)  # b or a has retried meanwhile, and failed
        assert a.is_leader != b.is_leader
        leader, follower = (a, b) if a.is_leader else (b, a)
        stats = follower.stats()
        assert (stats["role"], stats["leader"], stats["terms"]) == ("follower", leader.holder, 0)
        assert c.key != a.key == b.key
        # The leader is cancelled (its connection closed): the follower takes over.
        stopped = time.monotonic()
        leader_task = tasks[(a, b).index(leader)]
        leader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leader_task
        await wait_for_async(lambda: follower.is_leader, 5, "the follower to take over")
        print(f"takeover {time.monotonic() - stopped:.3f} s after the leader stopped")
        assert time.monotonic() - stopped < 0.3 + 1.0
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


class FreezableProxy:
    """A TCP proxy in front of the real PostgreSQL that can stop forwarding without closing
    anything: to the leader it looks like a peer that went silent (a partition, a hung
    node). A fake network, not a fake server: the database behind it is the real one."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self._writers: list[asyncio.StreamWriter] = []
        self._handlers: set[asyncio.Task[Any]] = set()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        """Close every connection (as the server does once its keepalives give up)."""
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        self.flowing.set()
        self.cut()
        if self._server is not None:
            self._server.close()
        await asyncio.wait_for(asyncio.gather(*self._handlers, return_exceptions=True), 5)


async def test_a_leader_whose_database_goes_silent_stops_its_duties(store_url: str) -> None:
    upstream = urlsplit(store_url)
    proxy = FreezableProxy(upstream.port or 5432)
    await proxy.start()
    via_proxy = urlunsplit(upstream._replace(netloc=f"{upstream.username}@127.0.0.1:{proxy.port}"))
    keepalive_s = 1.0
    leadership = Leadership(
        LeadershipConfig(store_url=via_proxy, holder="silent", retry_s=0.3, check_s=0.2,
                         keepalive_s=keepalive_s)
    )  # fmt: skip
    duties = Recorder()
    stop = asyncio.Event()
    task = asyncio.create_task(leadership.run(duties, stop))
    try:
        await wait_for_async(lambda: leadership.is_leader, 10, "leadership")
        proxy.flowing.clear()  # nothing gets through, nothing is closed
        silent = time.monotonic()
        await wait_for_async(lambda: duties.ends, 10, "the duties to stop")
        stopped_after = duties.ends[0] - silent
        print(f"duties stopped {stopped_after:.3f} s after the database went silent")
        assert stopped_after < 0.2 + keepalive_s + 1.0  # a check, its timeout, slack
        assert not leadership.is_leader and "did not answer" in leadership.last_error
        # The server still sees a live session holding the lock until it gives up on it;
        # then the lock is free and the leader, reconnected, leads again.
        assert lock_holders(leadership.key) == [leadership.application_name]
        proxy.cut()
        proxy.flowing.set()
        await wait_for_async(
            lambda: len(duties.starts) == 2 and leadership.is_leader, 10, "a new term"
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await proxy.close()


async def test_a_follower_whose_database_goes_silent_still_stops_promptly(store_url: str) -> None:
    upstream = urlsplit(store_url)
    proxy = FreezableProxy(upstream.port or 5432)
    await proxy.start()
    via_proxy = urlunsplit(upstream._replace(netloc=f"{upstream.username}@127.0.0.1:{proxy.port}"))
    leader = Leadership(config(store_url, "direct"))
    follower = Leadership(
        LeadershipConfig(store_url=via_proxy, holder="behind", retry_s=0.2, check_s=0.2,
                         keepalive_s=0.5)
    )  # fmt: skip
    stop, follower_stop = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(leader.run(Recorder(), stop))]
    try:
        await wait_for_async(lambda: leader.is_leader, 10, "leadership")
        following = asyncio.create_task(follower.run(Recorder(), follower_stop))
        await wait_for_async(
            lambda: follower.stats()["leader"] == "direct", 10, "the follower to look"
        )
        proxy.flowing.clear()
        await wait_for_async(
            lambda: "no answer" in follower.last_error, 10, "the attempt to time out"
        )
        assert not follower.is_leader
        follower_stop.set()
        asked = time.monotonic()
        await asyncio.wait_for(following, 10)
        assert time.monotonic() - asked < 0.5 * 2 + 1.0  # a pending connect times out
    finally:
        stop.set()
        follower_stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        await proxy.close()
