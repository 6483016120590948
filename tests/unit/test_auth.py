"""Bearer tokens: parsing, refusal, the two tokens and their fallback, exposure warnings."""

from __future__ import annotations

from typing import Any

import pytest

from oracle_monitor.auth import BearerAuth, exposure_warnings, is_loopback
from oracle_monitor.config import Settings

TOKEN = "s3cret-token"


@pytest.mark.parametrize(
    ("authorization", "allowed"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),  # the scheme is case-insensitive (RFC 7235)
        (f"BEARER  {TOKEN} ", True),
        (f"Bearer {TOKEN}".encode(), True),
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        (TOKEN, False),  # no scheme
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Bearer {TOKEN.upper()}", False),  # the token itself is case-sensitive
    ],
)
def test_authorization_header(authorization: str | bytes | None, allowed: bool) -> None:
    assert BearerAuth(TOKEN).allows(authorization) is allowed


def test_bare_token() -> None:
    auth = BearerAuth(TOKEN)
    assert auth.allows_token(TOKEN)
    assert auth.allows_token(TOKEN.encode())
    assert not auth.allows_token("")
    assert not auth.allows_token(None)
    assert not auth.allows_token(f"Bearer {TOKEN}")


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_allows_everything(token: str | None) -> None:
    auth = BearerAuth(token)
    assert not auth.enabled
    assert auth.allows(None)
    assert auth.allows_token(None)


def test_the_token_is_not_kept_in_clear() -> None:
    assert TOKEN not in repr(vars(BearerAuth(TOKEN)))


@pytest.mark.parametrize(
    ("env", "api", "otlp"),
    [
        ({}, None, None),
        ({"ORACLE_AUTH_TOKEN": "tok-both"}, "tok-both", "tok-both"),
        ({"ORACLE_API_TOKEN": "tok-api"}, "tok-api", None),
        ({"ORACLE_OTLP_TOKEN": "tok-otlp"}, None, "tok-otlp"),
        ({"ORACLE_API_TOKEN": "tok-api", "ORACLE_OTLP_TOKEN": "tok-otlp"}, "tok-api", "tok-otlp"),
        ({"ORACLE_AUTH_TOKEN": "tok-both", "ORACLE_API_TOKEN": "tok-api"}, "tok-api", "tok-both"),
        (
            {"ORACLE_AUTH_TOKEN": "tok-both", "ORACLE_OTLP_TOKEN": "tok-otlp"},
            "tok-both",
            "tok-otlp",
        ),
    ],
)
def test_tokens_and_their_fallback(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], api: str | None, otlp: str | None
) -> None:
    for name in ("ORACLE_AUTH_TOKEN", "ORACLE_API_TOKEN", "ORACLE_OTLP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    no_flags: dict[str, Any] = {}
    settings = Settings(**no_flags)  # from the environment only, as `serve` reads it
    assert settings.auth.api_bearer_token() == api
    assert settings.auth.otlp_bearer_token() == otlp
    for value in env.values():
        assert value not in repr(settings)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("oracle.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exposure_warnings() -> None:
    assert exposure_warnings("127.0.0.1", api_token=False, otlp_token=False) == []
    assert exposure_warnings("0.0.0.0", api_token=True, otlp_token=True) == []
    both = exposure_warnings("0.0.0.0", api_token=False, otlp_token=False)
    assert len(both) == 2
    assert "ORACLE_API_TOKEN" in both[0]
    assert "ORACLE_OTLP_TOKEN" in both[1]
    (only,) = exposure_warnings("0.0.0.0", api_token=True, otlp_token=False)
    assert "OTLP" in only
    assert "0.0.0.0" in only
