"""The demo's background work: tasks for the agents, and the control file they read.

`Workload` produces a task every ``interval_s`` on ``tasks.<kind>`` (research tasks go on to
the writer), round robin over questions the agents' corpus can answer, until stopped.
`ControlFile` writes the run-time knobs the agents re-read every second.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from oracle_monitor.demo.broker import PRODUCER_DEFAULTS

TOPICS = ("tasks.research", "tasks.writer", "tasks.analysis", "tool-requests",
          "tool-responses", "results", "tasks.dlq")  # fmt: skip
QUESTIONS = (
    "How fast is solar power growing, and what does it cost?",
    "What limits battery storage on the grid?",
    "How do heat pumps compare on cost and growth in Europe?",
    "Why does grid congestion slow wind power?",
    "How much electricity will data centers need?",
    "What role can hydrogen play in industry?",
    "How does carbon pricing change the cost of electricity?",
    "Are electric vehicles cheaper to run than petrol cars?",
)
DATASETS = (
    ["solar_capacity_gw", "wind_capacity_gw"],
    ["battery_pack_price_usd_kwh", "ev_sales_millions"],
    ["data_center_demand_twh"],
    ["heat_pump_sales_europe_millions", "eu_carbon_price_eur"],
)


class ControlFile:
    """The agents' control file: JSON written atomically (readers never see half a file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.write()

    def set(self, **values: Any) -> None:
        """Merge ``values`` (a dict value is a per-kind section, merged too) and write."""
        with self._lock:
            for key, value in values.items():
                if isinstance(value, dict) and isinstance(self.values.get(key), dict):
                    self.values[key] = {**self.values[key], **value}
                else:
                    self.values[key] = value
            self._write()

    def write(self) -> None:
        """Write the current values."""
        with self._lock:
            self._write()

    def _write(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.values, indent=2))
        os.replace(temporary, self.path)


class Workload:
    """Produces the demo's tasks in a background thread (see the module docstring)."""

    def __init__(self, bootstrap: str, interval_s: float = 3.0) -> None:
        self.interval_s = interval_s
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, "log_level": 2}
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-workload", daemon=True)
        self._count = itertools.count(1)
        self.sent: list[dict[str, Any]] = []

    def start(self) -> None:
        """Start producing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop producing and flush."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._producer.flush(5)
        del self._producer  # librdkafka's threads go now, before the broker does

    def send(self, kind: str, task_input: dict[str, Any], **extra: Any) -> str:
        """Produce one task now; returns its id."""
        task_id = f"task-{kind[:3]}-{next(self._count):04d}"
        task = {"task_id": task_id, "kind": kind, "input": task_input, **extra}
        self._producer.produce(f"tasks.{kind}", json.dumps(task).encode(), key=task_id)
        self._producer.poll(0)
        self.sent.append(task)
        return task_id

    def send_raw(self, topic: str, value: bytes) -> None:
        """Produce a raw message (e.g. a malformed task)."""
        self._producer.produce(topic, value)
        self._producer.poll(0)

    def _run(self) -> None:
        questions = itertools.cycle(QUESTIONS)
        datasets = itertools.cycle(DATASETS)
        kinds = itertools.cycle(("research", "analysis", "research", "writer"))
        while not self._stop.wait(self.interval_s):
            kind = next(kinds)
            if kind == "research":
                self.send("research", {"question": next(questions)}, next=["writer"])
            elif kind == "analysis":
                self.send("analysis", {"question": next(questions), "datasets": next(datasets)})
            else:
                self.send("writer", {"question": next(questions)})
