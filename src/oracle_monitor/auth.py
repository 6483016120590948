"""Optional bearer-token authentication for the OTLP receivers and the API.

Two tokens, each optional: ``ORACLE_OTLP_TOKEN`` guards both OTLP receivers (gRPC and HTTP;
exporters send it with ``OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>``) and
``ORACLE_API_TOKEN`` guards the REST API, the Jaeger-compatible API, ``/metrics`` and the
WebSocket (which may also pass it as ``?token=``, since browsers cannot set headers there).
``ORACLE_AUTH_TOKEN``, the older single setting, is the fallback for either one.

A refused request learns nothing but that it was refused: the same answer whether the token
was missing, malformed or wrong. Tokens are compared as SHA-256 digests with
`hmac.compare_digest`, so the time taken depends neither on where the first wrong byte is nor
on the length of what was sent. Tokens are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

#: What every refused request is told, on every door (no hint of what was wrong).
REFUSED_MESSAGE = "authentication required"


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


class BearerAuth:
    """Checks ``Authorization`` header values (or bare tokens) against one configured token."""

    def __init__(self, token: str | None) -> None:
        self._expected = _digest(token.encode()) if token else None

    @property
    def enabled(self) -> bool:
        """Whether a token is required at all."""
        return self._expected is not None

    def allows_token(self, token: str | bytes | None) -> bool:
        """Whether this bare token (e.g. a WebSocket's ``?token=``) may proceed."""
        if self._expected is None:
            return True
        if not token:
            return False
        if isinstance(token, str):
            token = token.encode()
        return hmac.compare_digest(_digest(token), self._expected)

    def allows(self, authorization: str | bytes | None) -> bool:
        """Whether a request with this ``Authorization`` value may proceed.

        The value is ``Bearer <token>``; the scheme is case-insensitive (RFC 7235).
        """
        if self._expected is None:
            return True
        if authorization is None:
            return False
        if isinstance(authorization, str):
            authorization = authorization.encode()
        scheme, _, token = authorization.strip().partition(b" ")
        if scheme.lower() != b"bearer":
            # Compare anyway, so a wrong scheme takes as long as a wrong token.
            hmac.compare_digest(_digest(authorization), self._expected)
            return False
        return self.allows_token(token.strip())


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the listeners reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warnings(host: str, *, api_token: bool, otlp_token: bool) -> list[str]:
    """Warnings for listeners bound beyond loopback without a token (empty when safe)."""
    if is_loopback(host):
        return []
    warnings = []
    if not api_token:
        warnings.append(
            f"the API, UI and WebSocket listen on {host} without a token: anyone who can "
            "reach this address reads every trace; set ORACLE_API_TOKEN"
        )
    if not otlp_token:
        warnings.append(
            f"the OTLP receivers listen on {host} without a token: anyone who can reach "
            "this address can write spans; set ORACLE_OTLP_TOKEN"
        )
    return warnings
