from collections.abc import Callable, Mapping
from typing import Any

class Unsupported(Exception): ...

class Decoder:
    def __init__(
        self,
        span_type: Callable[..., Any],
        event_type: Callable[..., Any],
        link_type: Callable[..., Any],
        kinds: Mapping[int, Any],
        codes: Mapping[int, Any],
        unspecified: Any,
        unset: Any,
        marker: str,
        limit: int,
    ) -> None: ...
    def spans(self, body: bytes) -> list[Any]: ...
