"""Optional bearer-token authentication, shared by the OTLP receivers and the API.

When ``ORACLE_AUTH_TOKEN`` is set, every OTLP request and every API call except
``/api/v1/health`` must carry ``Authorization: Bearer <token>`` (exporters:
``OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>``). The comparison takes the same
time whatever the input, and the token is never logged.
"""

from __future__ import annotations

import hmac


class BearerAuth:
    """Checks ``Authorization`` header values against one configured token."""

    def __init__(self, token: str | None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None

    @property
    def enabled(self) -> bool:
        """Whether a token is required at all."""
        return self._expected is not None

    def allows(self, authorization: str | bytes | None) -> bool:
        """Whether a request with this ``Authorization`` value may proceed."""
        if self._expected is None:
            return True
        if authorization is None:
            return False
        if isinstance(authorization, str):
            authorization = authorization.encode()
        return hmac.compare_digest(authorization, self._expected)
