"""The ``supabase://`` store URL, the key's role, and the settings that build the URL from
``SUPABASE_URL`` and a key (no server needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from oracle_monitor.config import Settings, StoreSettings
from oracle_monitor.roles.lifecycle import redacted
from oracle_monitor.store.postgrest.url import SupabaseURL, key_role, supabase_store_url

_ENV = ("ORACLE_STORE", "ORACLE_SUPABASE_URL", "SUPABASE_URL", "ORACLE_SUPABASE_KEY",
        "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY", "ORACLE_SUPABASE_SCHEMA")  # fmt: skip


def settings(**store: Any) -> Settings:
    """Settings as `serve` reads them: from the environment, then these flags of the store
    group."""
    return Settings(store=StoreSettings(**store))


def jwt(role: str) -> str:
    def part(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'role': role})}.signature"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def test_url_round_trip_keeps_the_key_out_of_repr() -> None:
    key = jwt("service_role")
    url = supabase_store_url("https://abc.supabase.co/", key, "sqlite:///d/oracle.db")
    assert url.startswith("supabase://:")
    parsed = SupabaseURL.parse(url)
    assert parsed.api_url == "https://abc.supabase.co"
    assert parsed.key == key and parsed.spans == "sqlite:///d/oracle.db"
    assert (parsed.schema, parsed.tenant, parsed.timeout_s) == ("public", "default", 30.0)
    assert key not in repr(parsed)
    assert key not in redacted(url) and "***" in redacted(url)


def test_plain_http_port_and_options() -> None:
    url = supabase_store_url("http://127.0.0.1:54321", "sb_secret_x/y", "sqlite:///a.db", "oracle")
    assert url.startswith("supabase+http://")
    parsed = SupabaseURL.parse(url + "&tenant=acme&timeout=5")
    assert parsed.api_url == "http://127.0.0.1:54321"
    assert (parsed.key, parsed.schema, parsed.tenant, parsed.timeout_s) == (
        "sb_secret_x/y", "oracle", "acme", 5.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("supabase://abc.supabase.co?spans=sqlite:///a.db", "no key"),
        ("supabase://:k@abc.supabase.co", "spans=sqlite"),
        ("supabase://:k@abc.supabase.co?spans=sqlite:///a.db&color=red", "unknown"),
        ("supabase://:k@abc.supabase.co?spans=sqlite:///a.db&schema=a;b", "schema"),
        ("supabase://:k@abc.supabase.co?spans=sqlite:///a.db&timeout=soon", "timeout"),
    ],
)
def test_bad_urls_say_what_is_wrong_without_the_key(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        SupabaseURL.parse(url)
    assert ":k@" not in str(raised.value)


def test_the_rest_url_is_taken_for_the_project_url() -> None:
    url = supabase_store_url("https://abc.supabase.co/rest/v1/", "k", "sqlite:///a.db")
    assert SupabaseURL.parse(url).api_url == "https://abc.supabase.co"


def test_an_api_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="SUPABASE_URL"):
        supabase_store_url("abc.supabase.co", "k", "sqlite:///a.db")


@pytest.mark.parametrize(
    ("key", "role"),
    [
        (jwt("anon"), "anon"),
        (jwt("service_role"), "service_role"),
        ("sb_publishable_abc", "anon"),
        ("sb_secret_abc", "service_role"),
        ("not-a-jwt", None),
        ("a.!!!.c", None),
    ],
)
def test_key_role(key: str, role: str | None) -> None:
    assert key_role(key) == role


def test_settings_build_the_supabase_store_from_url_and_service_role_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
    monkeypatch.setenv("SUPABASE_KEY", jwt("anon"))  # a project's .env often has both
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", jwt("service_role"))
    built = settings(data_dir=tmp_path)
    parsed = SupabaseURL.parse(built.store.url)
    assert parsed.key == jwt("service_role")  # the service role key wins
    assert parsed.spans == f"sqlite:///{(tmp_path / 'oracle.db').as_posix()}"
    assert jwt("service_role") not in repr(built)


def test_settings_fall_back_to_supabase_key_and_take_a_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
    monkeypatch.setenv("SUPABASE_KEY", "sb_secret_abc")
    monkeypatch.setenv("ORACLE_SUPABASE_SCHEMA", "oracle")
    parsed = SupabaseURL.parse(settings().store.url)
    assert (parsed.key, parsed.schema) == ("sb_secret_abc", "oracle")


def test_a_store_url_wins_over_supabase_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "sb_secret_abc")
    monkeypatch.setenv("ORACLE_STORE", "postgresql://db.abc.supabase.co/postgres")
    assert settings().store.url == "postgresql://db.abc.supabase.co/postgres"


def test_supabase_url_without_a_key_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
    with pytest.raises(ValidationError, match="SUPABASE_SERVICE_ROLE_KEY"):
        settings()


def test_without_supabase_the_default_stays_sqlite(tmp_path: Path) -> None:
    assert settings(data_dir=tmp_path).store.url.startswith("sqlite:///")
