"""Requests to a Supabase project's PostgREST through the official ``supabase`` client.

One place turns every failed request into a `PostgRESTError` that names the table, the HTTP
status and PostgREST's ``code``/``message``/``hint`` (never the key), retries what is safe to
retry, and reads past PostgREST's ``max-rows`` (Supabase's default is 1000 rows per response:
a longer result is cut without notice, so lists are read page by page until a page comes
back empty, or, once the cap has been seen, shorter than it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import httpx
from postgrest import APIError, APIResponse
from supabase import Client, create_client
from supabase.lib.client_options import SyncClientOptions

from oracle_monitor.store.postgrest.url import SupabaseURL

__all__ = ["PAGE_ROWS", "PostgRESTError", "Rest"]

_log = logging.getLogger(__name__)
#: Rows asked for per page; Supabase's default max-rows.
PAGE_ROWS: Final = 1000
#: Statuses of a gateway or a PostgREST that is restarting: worth another try.
_TRANSIENT: Final = frozenset({502, 503, 504, 520})
_RETRY_DELAYS_S: Final = (0.2, 1.0)
B = TypeVar("B")


class PostgRESTError(RuntimeError):
    """A request to the project's API failed: ``status`` (0 when the API could not be
    reached), PostgREST's ``code``, ``message``, ``details`` and ``hint``."""

    def __init__(
        self,
        what: str,
        status: int,
        message: str,
        code: str | None = None,
        details: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status, self.code, self.message = status, code, message
        self.details, self.hint = details, hint
        text = f"{what}: " + (f"HTTP {status}" if status else "no answer")
        text += f" {code}: {message}" if code else f": {message}"
        for extra in (details, hint):
            if extra:
                text += f" ({extra})"
        if status == 401:
            text += "; the project refused the key: check SUPABASE_SERVICE_ROLE_KEY"
        super().__init__(text)

    @property
    def transient(self) -> bool:
        """Whether trying again may succeed (no answer, or a gateway/restart status)."""
        return self.status == 0 or self.status in _TRANSIENT


def _raise_for_status(response: httpx.Response) -> None:
    """httpx response hook: a failed request raises `PostgRESTError` with PostgREST's error
    JSON (``{"code", "message", "details", "hint"}``), or the body's start when not JSON."""
    if response.is_success:
        return
    response.read()
    table = response.request.url.path.rsplit("/", 1)[-1]
    what = f"Supabase API {response.request.method} {table}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:200]
        raise PostgRESTError(what, response.status_code, text or response.reason_phrase)
    fields = {key: body.get(key) for key in ("code", "details", "hint")}
    raise PostgRESTError(
        what,
        response.status_code,
        str(body.get("message") or body.get("msg") or response.reason_phrase),
        **{key: None if value is None else str(value) for key, value in fields.items()},
    )


class Rest:
    """The ``supabase`` client of one project, and the request helpers the store uses."""

    def __init__(self, url: SupabaseURL) -> None:
        self.url = url
        self._http = httpx.Client(
            timeout=url.timeout_s, event_hooks={"response": [_raise_for_status]}
        )
        options = SyncClientOptions(
            schema=url.schema,
            auto_refresh_token=False,
            persist_session=False,
            postgrest_client_retry=False,  # retried here, writes too (they are idempotent)
            httpx_client=self._http,
        )
        self.client: Client = create_client(url.api_url, url.key, options)
        self.client.postgrest  # noqa: B018  (made on first use: now, before threads share it)
        self._page_rows = PAGE_ROWS
        self._page_is_cap = False  # whether the server was seen cutting pages at _page_rows
        self._lock = threading.Lock()

    def table(self, name: str) -> Any:
        """A request builder of table ``name`` (``client.table``)."""
        return self.client.table(name)

    def run(self, what: str, request: Callable[[], Any]) -> APIResponse:
        """Execute the builder ``request()`` returns, retrying transient failures twice.

        Only idempotent requests come here (reads, inserts that ignore duplicates, upserts of
        merged rows, deletes by key), so a retry after an answer that was lost is harmless.
        """
        for attempt in range(len(_RETRY_DELAYS_S) + 1):
            try:
                response: APIResponse = request().execute()
                return response
            except PostgRESTError as error:
                failure = error
            except httpx.TransportError as error:
                failure = PostgRESTError(f"Supabase API {what}", 0, f"{self.url.api_url}: {error}")
            except APIError as error:  # an answer the response hook let through
                failure = PostgRESTError(
                    f"Supabase API {what}", 0, str(error.message), error.code, None, error.hint
                )
            if not failure.transient or attempt == len(_RETRY_DELAYS_S):
                raise failure
            _log.warning("%s; retrying", failure)
            time.sleep(_RETRY_DELAYS_S[attempt])
        raise AssertionError("unreachable")

    def fetch(self, what: str, request: Callable[[], Any]) -> list[dict[str, Any]]:
        """The rows a select answers (`run`)."""
        data: list[dict[str, Any]] = self.run(what, request).data  # type: ignore[assignment]
        return data

    def _page(
        self, what: str, query: Callable[[], Any], offset: int, size: int
    ) -> list[dict[str, Any]]:
        return self.fetch(what, lambda: query().range(offset, offset + size - 1))

    def rows(self, what: str, query: Callable[[], Any], limit: int | None) -> list[dict[str, Any]]:
        """All rows of ``query()`` (a select with its order), at most ``limit``, read in pages
        (``offset``/``limit``) so that the server's max-rows cannot cut the result short."""
        found: list[dict[str, Any]] = []
        while limit is None or len(found) < limit:
            want = self._page_rows if limit is None else min(self._page_rows, limit - len(found))
            page = self._page(what, query, len(found), want)
            found += page
            if not page or (len(page) < want and self._page_is_cap):
                break
            if len(page) < want:  # the end, or the server's max-rows: the next page tells
                more = self._page(what, query, len(found), want)
                if not more:
                    break
                with self._lock:
                    self._page_rows, self._page_is_cap = len(page), True
                found += more
        return found if limit is None else found[:limit]

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()
