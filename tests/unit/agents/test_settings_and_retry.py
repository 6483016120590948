"""The control file, the settings, the messages and the retry policy."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from oracle_monitor.agents import AgentSettings, Control, Task
from oracle_monitor.agents.messages import InvalidMessage, ToolResponse, decode
from oracle_monitor.agents.retry import RetryContext, backoff_delay, rss_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_control_file_is_re_read_once_a_second(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    clock = Clock()
    control = Control(path, "research", clock=clock)
    assert control.number("tool_delay_seconds", 0.5) == 0.5  # no file yet: no overrides
    path.write_text(json.dumps({"tool_delay_seconds": 6, "research": {"retry_memory_mb": 40}}))
    clock.now = 0.5
    assert control.number("tool_delay_seconds", 0.5) == 0.5  # read less than a second ago
    clock.now = 1.0
    assert control.number("tool_delay_seconds", 0.5) == 6.0
    assert control.number("retry_memory_mb", 0) == 40.0  # the kind's own section
    assert Control(path, "writer").number("retry_memory_mb", 0) == 0.0
    path.write_text("{broken")
    clock.now = 2.0
    assert control.number("tool_delay_seconds", 0.5) == 6.0  # last good values kept
    path.write_text(json.dumps({"tool_delay_seconds": "six", "max_retries": -1}))
    clock.now = 3.0
    assert control.number("tool_delay_seconds", 0.5) == 0.5  # not a usable number
    assert control.number("max_retries", 3) == 3


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_AGENT_PROVIDER", "anthropic")
    monkeypatch.setenv("ORACLE_AGENT_TOOL_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("K8S_POD_NAME", "research-7")
    settings = AgentSettings()
    assert settings.llm_model == "claude-sonnet-4-5"
    assert settings.tool_timeout_seconds == 2.5
    assert settings.pod_name == "research-7"
    monkeypatch.setenv("ORACLE_AGENT_MAX_RETRIES", "-1")
    with pytest.raises(ValueError, match="max_retries"):
        AgentSettings()


def test_a_task_hands_its_output_on_over_its_input() -> None:
    task = Task(task_id="t", kind="research", input={"question": "q", "n": 1}, next=["writer", "x"])
    following = task.handed_on({"n": 2, "findings": []})
    assert following == Task(
        task_id="t", kind="writer", input={"question": "q", "n": 2, "findings": []}, next=["x"]
    )
    with pytest.raises(ValueError, match="no next agent"):
        following.handed_on({}).handed_on({})


def test_decoding_says_what_is_wrong() -> None:
    with pytest.raises(InvalidMessage, match=r"not a ToolResponse: request_id: Field required"):
        decode(ToolResponse, b'{"ok": true}')
    with pytest.raises(InvalidMessage, match="empty Task message"):
        decode(Task, None)
    assert decode(Task, b'{"task_id": "t", "kind": "k", "extra": 1}').model_extra == {"extra": 1}


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    exact = [backoff_delay(n, 0.5, 4.0, jitter=0) for n in (1, 2, 3, 4, 5)]
    assert exact == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff_delay(1, 0.5, 4.0, retry_after_s=3.0, jitter=0) == 3.0
    assert backoff_delay(1, 0.5, 4.0, retry_after_s=60.0, jitter=0) == 4.0
    jittered = backoff_delay(2, 0.5, 4.0, jitter=0.2, rng=random.Random(1))
    assert 1.0 <= jittered <= 1.2


def test_the_retry_context_holds_real_memory() -> None:
    before = rss_bytes()
    context = RetryContext("research calls search")
    for attempt in range(3):
        context.grow(f"attempt {attempt} timed out", 16)
    assert context.held_bytes == 48 << 20
    assert rss_bytes() - before >= 40 << 20  # resident, not just reserved
    assert context.retries == 3
    assert context.prompt(40).endswith("attempt 2 timed out")
    assert len(context.prompt(40)) == 40
    # what is re-sent grows by the context carried (retry_prompt_kb per retry)
    grown = context.prompt(40, context_chars=4096)
    assert len(grown) == 4096 + 1 + 40 and grown.startswith("research calls search")
    context.note("attempt 3 timed out")  # a note holds no more memory
    assert context.held_bytes == 48 << 20 and context.retries == 3
