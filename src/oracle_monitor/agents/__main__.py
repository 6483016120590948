"""``python -m oracle_monitor.agents <kind>|tools|<module>:<Class> [--name NAME]``.

Runs one agent (or the tool worker) until SIGTERM or SIGINT, then leaves its consumer groups,
flushes its messages and spans, and exits 0. Configured by the environment only (see
`oracle_monitor.agents.settings`); exits 2 on a bad setting or kind.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from types import FrameType

from pydantic import ValidationError

from oracle_monitor.agents import AGENTS, BaseAgent, ToolWorker
from oracle_monitor.agents.llm import LLMConfigurationError
from oracle_monitor.agents.settings import AgentSettings, Control
from oracle_monitor.instrumentation import configure, shutdown

log = logging.getLogger("oracle_monitor.agents")


def agent_class(kind: str) -> type[BaseAgent]:
    """The agent class ``kind`` names: a known kind, or ``module:Class``."""
    if kind in AGENTS:
        return AGENTS[kind]
    module_name, _, class_name = kind.partition(":")
    if not class_name:
        raise ValueError(f"unknown agent kind {kind!r}; use {', '.join(AGENTS)}, tools or m:C")
    found = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(found, type) and issubclass(found, BaseAgent)):
        raise ValueError(f"{kind} is not a BaseAgent subclass")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oracle_monitor.agents")
    parser.add_argument("kind", help=f"{' | '.join(AGENTS)} | tools | module:Class")
    parser.add_argument("--name", help="agent name (gen_ai.agent.name); default: its kind")
    args = parser.parse_args(argv)
    try:
        settings = AgentSettings()
        cls = None if args.kind == "tools" else agent_class(args.kind)
    except (ValidationError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one INFO line per LLM request
    kind = "tools" if cls is None else cls.kind
    # A pod killed for memory loses the spans still queued: export them soon after they end.
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "500")
    default_service = "tool-worker" if cls is None else f"{args.name or kind}-agent"
    configure(
        os.environ.get("OTEL_SERVICE_NAME") or default_service,
        instrument_llm=settings.instrument_llm,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    control = Control(settings.control_file, kind)
    try:
        if cls is None:
            ToolWorker(settings, control, client_id=settings.pod_name or "tool-worker").run(stop)
        else:
            cls(settings, name=args.name, control=control).run(stop)
    except LLMConfigurationError as error:  # no API key: this pod cannot work
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    log.info("%s stopped", kind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
