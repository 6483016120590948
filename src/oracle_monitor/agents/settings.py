"""Settings of an agent process (`AgentSettings`) and its run-time control file (`Control`).

An agent is configured by its environment only, so that a Kubernetes pod spec (or the demo's
simulated cluster) can start it: ``ORACLE_AGENT_<NAME>`` variables for the fields below, the
standard ``OTEL_*`` variables for tracing (read by `oracle_monitor.instrumentation.configure`),
the downward-API variables ``K8S_POD_NAME`` and friends, and the SDKs' own ``OPENAI_API_KEY`` /
``ANTHROPIC_API_KEY``. Keys are never stored here: the SDKs read them.

The control file (``ORACLE_AGENT_CONTROL_FILE``) changes a running agent's behaviour: a JSON
object re-read at most once a second, whose keys override the settings of the same name
(``tool_delay_seconds``, ``tool_timeout_seconds``, ``max_retries``, ``retry_memory_mb``,
``retry_prompt_kb``, ``response_delay_seconds``). A key inside an object named after the
agent's kind applies to that kind only:
``{"retry_memory_mb": 40, "research": {"response_delay_seconds": 6}}``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AgentSettings", "Control"]

log = logging.getLogger(__name__)

DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5"}


class AgentSettings(BaseSettings):
    """What one agent (or tool worker) process needs; ``ORACLE_AGENT_<NAME>`` variables."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_AGENT_", extra="ignore")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap host:port.")
    provider: Literal["openai", "anthropic"] = Field(
        default="openai", description="Which LLM SDK: openai or anthropic."
    )
    model: str = Field(
        default="", description="LLM model; default gpt-4o-mini / claude-sonnet-4-5."
    )
    openai_base_url: str | None = Field(
        default=None, description="OpenAI base URL, e.g. the LLM proxy's http://127.0.0.1:8787/v1."
    )
    anthropic_base_url: str | None = Field(
        default=None, description="Anthropic base URL, e.g. the LLM proxy's http://127.0.0.1:8787."
    )
    llm_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one LLM request."
    )
    llm_max_retries: int = Field(
        default=2, ge=0, description="The SDK's own retries of a failed LLM request (429, 5xx)."
    )
    llm_max_tokens: int = Field(default=256, ge=1, description="max_tokens of each LLM request.")
    tool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long an agent waits for a tool response before retrying.",
    )
    max_retries: int = Field(
        default=3, ge=0, description="Retries of a tool call after the first try."
    )
    backoff_seconds: float = Field(
        default=0.5,
        ge=0,
        description="Delay before the first retry; doubles on each further retry.",
    )
    backoff_max_seconds: float = Field(
        default=8.0, ge=0, description="Longest delay between retries."
    )
    retry_memory_mb: float = Field(
        default=0.0,
        ge=0,
        description="Context bytes each retry adds (and holds until the call ends).",
    )
    retry_prompt_kb: float = Field(
        default=0.0,
        ge=0,
        description="Context each retry adds to the prompt it re-sends (KiB; cumulative).",
    )
    tool_delay_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Tool worker: how long each tool call takes on top of its work.",
    )
    response_delay_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Agent: how long handling each tool response takes (slow consumer).",
    )
    control_file: Path | None = Field(default=None, description="JSON file of run-time overrides.")
    commit_after_processing: bool = Field(
        default=False,
        description="Commit a task's offset once it is done (at least once). Default: when it "
        "is taken (at most once), so a task whose process dies mid-way is lost (orphaned).",
    )
    session_timeout_ms: int = Field(
        default=6000, ge=1000, description="Consumer group session timeout (tansu joins in half)."
    )
    producer_batch_messages: int = Field(
        default=1,
        ge=1,
        description="librdkafka batch.num.messages (1 keeps tansu's watermarks exact).",
    )
    topic_partitions: int = Field(
        default=3,
        ge=1,
        description="Partitions of the topics an agent creates when they are missing.",
    )
    instrument_llm: bool = Field(
        default=True,
        description="Trace the SDKs' HTTP calls in the agent (GenAI spans, 429s, tokens).",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    pod_name: str = Field(
        default="",
        validation_alias="K8S_POD_NAME",
        description="The pod (downward API): the agent id.",
    )

    @property
    def llm_model(self) -> str:
        """The model to ask: `model`, or the provider's default."""
        return self.model or DEFAULT_MODELS[self.provider]


class Control:
    """The control file's current values, re-read at most once a second (see module doc).

    A missing file means no overrides; a file that is not a JSON object is reported once and
    the last good values are kept.
    """

    def __init__(
        self,
        path: Path | None,
        kind: str,
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._kind = kind
        self._interval_s = interval_s
        self._clock = clock
        self._values: dict[str, Any] = {}
        self._read_at: float | None = None
        self._last_error = ""
        self._lock = threading.Lock()

    def values(self) -> dict[str, Any]:
        """Global keys overlaid with the kind's section, as last read."""
        with self._lock:
            now = self._clock()
            if self._path is not None and (
                self._read_at is None or now - self._read_at >= self._interval_s
            ):
                self._read_at = now
                self._reload(self._path)
            return dict(self._values)

    def number(self, key: str, default: float) -> float:
        """The numeric override of ``key``, or ``default``."""
        value = self.values().get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return default
        return float(value)

    def _reload(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            self._values = {}
            return
        except (OSError, ValueError) as error:
            self._report(f"cannot read control file {path}: {error}")
            return
        if not isinstance(raw, dict):
            self._report(f"control file {path} is not a JSON object; ignored")
            return
        section = raw.get(self._kind)
        values = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        if isinstance(section, dict):
            values.update(section)
        self._values = values
        self._last_error = ""

    def _report(self, message: str) -> None:
        if message != self._last_error:
            log.warning(message)
            self._last_error = message
