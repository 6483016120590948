"""The snapshot leader's advisory lock key: stable, 64-bit signed, apart per name, schema
and tenant; and how pg_locks shows it."""

from __future__ import annotations

import pytest

from oracle_monitor.aggregator.leader_duties import leadership_from_settings
from oracle_monitor.aggregator.leadership import Leadership, LeadershipConfig, lock_ids, lock_key
from oracle_monitor.config import Settings, StoreSettings


def test_the_key_is_stable_and_a_signed_bigint() -> None:
    key = lock_key("snapshots", "oracle", "acme")
    assert key == lock_key("snapshots", "oracle", "acme")
    assert key == 4431786846401425828  # pinned: a change would split a rolling upgrade
    assert -(2**63) <= key < 2**63


@pytest.mark.parametrize(
    "other",
    [("retention", "oracle", "acme"), ("snapshots", "other", "acme"),
     ("snapshots", "oracle", "default"), ("snapshots", None, "acme")],
)  # fmt: skip
def test_name_schema_and_tenant_each_change_the_key(other: tuple[str, str | None, str]) -> None:
    assert lock_key(*other) != lock_key("snapshots", "oracle", "acme")


def test_no_schema_is_public() -> None:
    assert lock_key("snapshots", None, "default") == lock_key("snapshots", "public", "default")


def test_separators_keep_fields_apart() -> None:
    assert lock_key("a", "b_c", "d") != lock_key("a_b", "c", "d")


@pytest.mark.parametrize(
    ("key", "ids"),
    [(0, (0, 0)), (1, (0, 1)), (2**32 + 5, (1, 5)), (-1, (2**32 - 1, 2**32 - 1)),
     (-(2**63), (2**31, 0))],
)  # fmt: skip
def test_lock_ids_as_pg_locks_shows_them(key: int, ids: tuple[int, int]) -> None:
    assert lock_ids(key) == ids


def test_the_key_comes_from_the_store_url() -> None:
    url = "postgresql://u@db:5432/x?schema=oracle&tenant=acme&sslmode=require"
    leadership = Leadership(LeadershipConfig(store_url=url, holder="h"))
    assert leadership.key == lock_key("snapshots", "oracle", "acme")
    assert leadership.application_name == "oracle-monitor leader h"
    assert leadership.stats()["role"] == "follower"


def test_settings_make_the_leadership() -> None:
    settings = Settings.model_validate(
        {"store": {"url": "postgresql://u@db/x?schema=s"}, "leader": {"lock_name": "x"},
         "snapshots": {"interval_seconds": 3}}
    )  # fmt: skip
    leadership = leadership_from_settings(settings)
    assert leadership.key == lock_key("x", "s", "default")
    assert leadership.config.retry_s == 3  # default: one snapshot interval
    with pytest.raises(ValueError, match="postgresql"):
        leadership_from_settings(Settings(store=StoreSettings(url="sqlite:///x.db")))


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="check_s"):
        LeadershipConfig(store_url="postgresql://x/y", check_s=0)
