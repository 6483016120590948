"""The settings an LLM span follows: the variables the stock httpx instrumentor reads, and the
GenAI instrumentations' content switch.

- ``OTEL_SEMCONV_STABILITY_OPT_IN``: ``http`` gives the stable HTTP attribute names
  (``http.request.method``, ``url.full``, ``server.address``…) alone, ``http/dup`` both them and
  the old ones, anything else the old ones (``http.method``, ``http.url``,
  ``http.status_code``);
- ``OTEL_PYTHON_HTTPX_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``): URLs not traced;
- ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST`` and ``…_CLIENT_RESPONSE``: the
  headers copied onto spans; ``…_SANITIZE_FIELDS``: those whose values read ``[REDACTED]``,
  to which the API-key headers (`SECRET_HEADERS`) are always added;
- ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: ``true`` records prompts and
  completions (redacted).

They are read once, by `HTTPSettings.from_environment`, as the instrumentors (the stock httpx
one, OpenTelemetry's GenAI ones) read them when they instrument; only public helpers of
`opentelemetry.util.http` are used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
    ExcludeList,
    get_custom_header_attributes,
    get_custom_headers,
    get_excluded_urls,
    normalise_request_header_name,
    normalise_response_header_name,
)

__all__ = ["CAPTURE_CONTENT_ENV", "SECRET_HEADERS", "SEMCONV_OPT_IN_ENV", "HTTPSettings"]

SEMCONV_OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
#: Headers whose values never reach a span, whatever the sanitize setting says.
SECRET_HEADERS = ("authorization", "x-api-key", "api-key")


@dataclass(frozen=True, slots=True)
class HTTPSettings:
    """Which HTTP attribute names to write, which URLs to skip, which headers to capture, and
    whether to record prompts and completions."""

    old_names: bool = True
    new_names: bool = False
    excluded_urls: ExcludeList | None = None
    request_headers: tuple[str, ...] = ()
    response_headers: tuple[str, ...] = ()
    sensitive_headers: tuple[str, ...] = SECRET_HEADERS
    capture_content: bool = False

    @classmethod
    def from_environment(cls) -> HTTPSettings:
        """The settings the process environment gives now."""
        opt_in = {part.strip() for part in os.environ.get(SEMCONV_OPT_IN_ENV, "").split(",")}
        both = "http/dup" in opt_in
        new = both or "http" in opt_in
        return cls(
            old_names=both or not new,
            new_names=new,
            excluded_urls=get_excluded_urls("HTTPX"),
            request_headers=tuple(
                get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST)
            ),
            response_headers=tuple(
                get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE)
            ),
            sensitive_headers=(
                *get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS),
                *SECRET_HEADERS,
            ),
            capture_content=os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true",
        )

    def excluded(self, url: str) -> bool:
        """Whether requests to ``url`` are not to be traced."""
        return self.excluded_urls is not None and self.excluded_urls.url_disabled(url)

    def request_header_attributes(self, headers: Any) -> dict[str, list[str]]:
        """``http.request.header.*`` attributes of the captured request headers, if any."""
        return self._captured(headers, self.request_headers, normalise_request_header_name)

    def response_header_attributes(self, headers: Any) -> dict[str, list[str]]:
        """``http.response.header.*`` attributes of the captured response headers, if any."""
        return self._captured(headers, self.response_headers, normalise_response_header_name)

    def _captured(
        self, headers: Any, captured: tuple[str, ...], name: Callable[[str], str]
    ) -> dict[str, list[str]]:
        if not captured:
            return {}
        values = {key: headers.get_list(key, split_commas=True) for key in headers}
        return get_custom_header_attributes(
            values, list(captured), list(self.sensitive_headers), name
        )
