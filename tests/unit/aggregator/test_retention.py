"""Snapshot retention on a real SQLite store, with synthetic timestamps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oracle_monitor.aggregator.retention import RetentionLoop, RetentionPolicy, apply_retention
from oracle_monitor.config import Settings
from oracle_monitor.model import Alert
from oracle_monitor.store import AlertQuery, Store, open_store

S = 1_000_000_000
H = 3600 * S
NOW = 1_800_000_000 * S  # a whole minute
POLICY = RetentionPolicy(full_resolution_ns=2 * H, thinned_step_ns=60 * S, retention_ns=6 * H)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/retention.db")
    yield store
    store.close()


def fill(store: Store, start_ns: int, end_ns: int, step_ns: int) -> None:
    for ts in range(start_ns, end_ns, step_ns):
        store.write_snapshot(ts, {"at": ts})


def stored(store: Store) -> list[int]:
    return [ts for ts, _ in store.snapshot_series(0, 2**62, 1)]


def test_full_resolution_then_thinned_then_dropped(store: Store) -> None:
    fill(store, NOW - 8 * H, NOW + 1, 20 * S)  # 8 hours, one every 20 s
    series_before = store.snapshot_series(NOW - 6 * H, NOW - 2 * H - 1, 60 * S)
    result = apply_retention(store, POLICY, NOW)
    kept = stored(store)
    assert min(kept) >= NOW - 6 * H  # older than the retention: gone
    assert result.dropped_snapshots == 2 * H // (20 * S)
    thinned = [ts for ts in kept if ts < NOW - 2 * H]
    recent = [ts for ts in kept if ts >= NOW - 2 * H]
    assert len(recent) == 2 * H // (20 * S) + 1  # all of the last two hours (and now)
    assert thinned == [NOW - 6 * H + 40 * S + k * 60 * S for k in range(4 * 60)]
    assert result.thinned_snapshots == 4 * 60 * 2
    assert store.snapshot_series(NOW - 6 * H, NOW - 2 * H - 1, 60 * S) == series_before
    again = apply_retention(store, POLICY, NOW, result.thinned_until_ns)
    assert (again.dropped_snapshots, again.thinned_snapshots) == (0, 0)
    assert stored(store) == kept


def test_passes_as_time_goes_on_thin_each_bucket_to_one(store: Store) -> None:
    fill(store, NOW - 3 * H, NOW, 2 * S)
    loop = RetentionLoop(store, POLICY)
    for minutes in range(0, 31, 7):  # a pass every 7 minutes, the boundary cutting buckets
        loop.run_once(NOW + minutes * 60 * S + 13 * S)
    boundary = NOW + 28 * 60 * S + 13 * S - 2 * H  # of the last pass
    old = [ts for ts in stored(store) if ts < boundary - 60 * S]
    assert len(old) == len({ts // (60 * S) for ts in old})  # one per minute
    assert all(ts % (60 * S) == 58 * S for ts in old)  # the last of each
    assert len([ts for ts in stored(store) if ts >= boundary]) == (NOW - boundary) // (2 * S)
    assert loop.stats()["passes"] == 5


def test_old_alerts_are_dropped(store: Store) -> None:
    store.write_alerts(
        [
            Alert("a" * 32, "oom_killed", "critical", NOW - 7 * H, NOW - 7 * H, "pod/a/b", ""),
            Alert("b" * 32, "oom_killed", "critical", NOW - 7 * H, NOW - 5 * H, "pod/a/c", ""),
        ]
    )
    assert apply_retention(store, POLICY, NOW).dropped_alerts == 1
    assert [a.alert_id for a in store.find_alerts(AlertQuery())] == ["b" * 32]


def test_policy_from_settings() -> None:
    settings = Settings.model_validate(
        {"snapshots": {"full_resolution_hours": 1, "thinned_step_seconds": 30,
                       "retention_days": 2}}
    )  # fmt: skip
    policy = RetentionPolicy.from_settings(settings)
    assert (policy.full_resolution_ns, policy.thinned_step_ns, policy.retention_ns) == (
        H, 30 * S, 48 * H,
    )  # fmt: skip
