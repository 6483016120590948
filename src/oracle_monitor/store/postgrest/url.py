"""The ``supabase://`` store URL: a Supabase project's API URL, its key and the span file.

    supabase://:<key>@<project-ref>.supabase.co?spans=sqlite:///oracle-data/oracle.db
    supabase+http://:<key>@127.0.0.1:54321?spans=...      (plain HTTP: `supabase start`)

The key is the URL's password (percent-encoded); `Settings` builds the URL from
``SUPABASE_URL`` and ``SUPABASE_SERVICE_ROLE_KEY`` (or ``SUPABASE_KEY``), so users rarely
write one. Options: ``spans`` (the SQLite URL of the spans, required), ``schema`` (the exposed
schema of the tables, default ``public``), ``tenant`` (the ``tenant_id`` of every row written
and read, default ``default``), ``timeout`` (seconds per HTTP request, default 30).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

__all__ = ["SCHEMES", "SupabaseURL", "key_role", "supabase_store_url"]

#: URL scheme -> the scheme of the project's API.
SCHEMES = {"supabase": "https", "supabase+https": "https", "supabase+http": "http"}
_OPTIONS = frozenset({"spans", "schema", "tenant", "timeout"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TENANT = re.compile(r"[A-Za-z0-9_.@:-]{1,200}")


@dataclass(frozen=True, slots=True)
class SupabaseURL:
    """A ``supabase://`` URL taken apart. ``key`` is kept out of `repr` (and so of logs)."""

    api_url: str  # https://<ref>.supabase.co, without a trailing slash
    key: str = field(repr=False)
    spans: str
    schema: str = "public"
    tenant: str = "default"
    timeout_s: float = 30.0

    @classmethod
    def parse(cls, url: str) -> SupabaseURL:
        """Split ``url``; raises ValueError naming what is wrong (never quoting the key)."""
        parts = urlsplit(url)
        scheme = SCHEMES.get(parts.scheme.lower())
        if scheme is None or not parts.hostname:
            raise ValueError("a supabase store URL is supabase://:KEY@HOST?spans=sqlite:///…")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown supabase store URL options: {', '.join(sorted(unknown))}")
        key = unquote(parts.password or "")
        if not key:
            raise ValueError("the supabase store URL has no key (supabase://:KEY@HOST…)")
        if not options.get("spans", "").startswith("sqlite:///"):
            raise ValueError("the supabase store URL needs spans=sqlite:///… (where spans go)")
        schema, tenant = options.get("schema") or "public", options.get("tenant") or "default"
        if not _NAME.fullmatch(schema):
            raise ValueError(f"bad supabase store URL option schema={schema!r}")
        if not _TENANT.fullmatch(tenant):
            raise ValueError(f"bad supabase store URL option tenant={tenant!r}")
        try:
            timeout = float(options.get("timeout") or 30)
        except ValueError:
            raise ValueError("bad supabase store URL option timeout") from None
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        port = f":{parts.port}" if parts.port else ""
        path = parts.path.rstrip("/")
        return cls(f"{scheme}://{host}{port}{path}", key, options["spans"], schema, tenant, timeout)


def supabase_store_url(api_url: str, key: str, spans: str, schema: str = "public") -> str:
    """The store URL of project ``api_url`` (``SUPABASE_URL``) with ``key``, spans in
    ``spans`` (a sqlite URL), tables in ``schema``; raises ValueError for an API URL that is
    not http(s)."""
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError(f"SUPABASE_URL must be https://<project>.supabase.co, not {api_url!r}")
    scheme = "supabase" if parts.scheme == "https" else "supabase+http"
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        {"spans": spans} if schema == "public" else {"spans": spans, "schema": schema}
    )
    path = parts.path.rstrip("/").removesuffix("/rest/v1")  # the project URL, not its REST URL
    return f"{scheme}://:{quote(key, safe='')}@{netloc}{path}?{query}"


def key_role(key: str) -> str | None:
    """The role a Supabase API key acts as: ``anon`` or ``service_role`` (or another role a
    JWT names), from the key's own text; ``None`` when it cannot tell.

    Legacy keys are JWTs whose payload names the ``role``; the newer ones are
    ``sb_publishable_…`` (acts as ``anon``) and ``sb_secret_…`` (``service_role``).
    """
    if key.startswith("sb_publishable_"):
        return "anon"
    if key.startswith("sb_secret_"):
        return "service_role"
    pieces = key.split(".")
    if len(pieces) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    role = payload.get("role") if isinstance(payload, dict) else None
    return role if isinstance(role, str) else None
