"""The Kubernetes collector with the real ``kubernetes`` client against the fake API server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

from oracle_monitor.collectors.k8s import K8sCollector, K8sConfig, create
from oracle_monitor.config import K8sSettings, Settings, StoreSettings
from oracle_monitor.demo.apiserver import ApiServer
from oracle_monitor.model import InfraEvent
from tests.fakes.k8s_fixtures import fixture
from tests.waiting import wait_for_async

pytestmark = pytest.mark.integration


class Recorder:
    """A thread-safe sink that remembers every event in arrival order."""

    def __init__(self) -> None:
        self.events: list[InfraEvent] = []

    def __call__(self, events: Sequence[InfraEvent]) -> None:
        self.events.extend(events)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with ApiServer() as server:
        server.apply("pods", fixture("pod_running"))
        server.apply("pods", fixture("pod_crashloop"))
        for event in fixture("events")["items"]:
            server.apply("events", event)
        server.metrics = fixture("pod_metrics")["items"]
        yield server


@pytest.fixture
async def running(api: ApiServer, tmp_path: Path) -> AsyncIterator[tuple[K8sCollector, Recorder]]:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cfg = K8sConfig(
        kubeconfig=kubeconfig,
        watch_timeout_seconds=2,
        backoff_initial_seconds=0.1,
        backoff_max_seconds=0.3,
        metrics_poll_seconds=0.2,
    )
    sink = Recorder()
    collector = K8sCollector(cfg, sink)
    await collector.start()
    await wait_for_async(lambda: collector.health().status == "ok")
    yield collector, sink
    await collector.shutdown()


def test_create_needs_kubeconfig_or_pod(tmp_path: Path) -> None:
    # Given explicitly: the tests may run in a pod, where Kubernetes sets the variable.
    store = StoreSettings(data_dir=tmp_path)
    settings = Settings(store=store, k8s=K8sSettings(kubernetes_service_host=None))
    assert create(settings, print) is None
    in_pod_settings = Settings(store=store, k8s=K8sSettings(kubernetes_service_host="10.0.0.1"))
    in_pod = create(in_pod_settings, print)
    assert isinstance(in_pod, K8sCollector)
    assert in_pod.config.in_cluster
    with_file = create(
        Settings(
            store=store, k8s=K8sSettings(kubeconfig=tmp_path / "k", kubernetes_service_host="h")
        ),
        print,
    )
    assert isinstance(with_file, K8sCollector)
    assert not with_file.config.in_cluster


async def test_initial_list_produces_state_and_events(
    running: tuple[K8sCollector, Recorder],
) -> None:
    collector, sink = running
    await wait_for_async(lambda: collector.state()["metrics_available"] is True)
    pods = {p["name"]: p for p in collector.state()["pods"]}
    assert set(pods) == {"research-agent-7d9f8b6c4d-x2k9p", "planner-agent-5c8d9e7f6b-q4w7z"}
    agent = pods["research-agent-7d9f8b6c4d-x2k9p"]
    assert (agent["phase"], agent["ready"], agent["agent"]) == ("Running", True, "research-agent")
    assert agent["cpu_cores"]["usage"] == pytest.approx(0.187465213)
    assert pods["planner-agent-5c8d9e7f6b-q4w7z"]["restarts"] == 4
    assert {"pod_created", "pod_ready", "crash_loop", "failed_scheduling"} <= set(sink.kinds())
    assert sink.kinds().count("failed_scheduling") == 1  # BackOff/Killing are not converted


async def test_watch_updates_in_order_and_rescheduling(
    running: tuple[K8sCollector, Recorder], api: ApiServer
) -> None:
    collector, sink = running
    before = len(sink.events)
    api.apply("pods", fixture("pod_oomkilled"))
    api.apply("pods", fixture("pod_oomkilled_again"))
    api.apply("pods", fixture("pod_evicted"))
    api.apply("pods", fixture("pod_replacement"))
    api.delete("pods", "agents", "research-agent-7d9f8b6c4d-b7h4m")
    await wait_for_async(lambda: "pod_deleted" in sink.kinds()[before:])
    new = [e.kind for e in sink.events[before:] if e.kind != "pod_scheduled"]
    assert new[:4] == ["oom_killed", "container_restarted", "oom_killed", "container_restarted"]
    assert new.index("pod_evicted") < new.index("pod_rescheduled") < new.index("pod_deleted")
    moved = next(e for e in sink.events if e.kind == "pod_rescheduled")
    assert moved.attributes["oracle.k8s.replaced_pod.name"] == "research-agent-7d9f8b6c4d-b7h4m"
    names = {p["name"] for p in collector.state()["pods"]}
    assert "research-agent-7d9f8b6c4d-b7h4m" not in names
    assert "research-agent-7d9f8b6c4d-k5c8d" in names


async def test_gone_relists_without_losing_or_duplicating(
    running: tuple[K8sCollector, Recorder], api: ApiServer, tmp_path: Path
) -> None:
    collector, sink = running
    api.set_reachable(False)  # the watch misses changes while away...
    await wait_for_async(lambda: collector.health().status == "unreachable")
    api.apply("pods", fixture("pod_oomkilled"))
    api.delete("pods", "agents", "planner-agent-5c8d9e7f6b-q4w7z")
    api.compact()  # ...and its resourceVersion is too old: 410 Gone, relist
    api.set_reachable(True)
    await wait_for_async(lambda: "pod_deleted" in sink.kinds() and "oom_killed" in sink.kinds())
    await wait_for_async(lambda: collector.health().status == "ok")
    await asyncio.sleep(2.5)  # a full watch timeout: any duplicate would have arrived
    ids = [e.event_id for e in sink.events if e.kind not in ("api_unreachable", "api_recovered")]
    assert len(ids) == len(set(ids))
    assert sink.kinds().count("oom_killed") == 1
    assert sink.kinds().count("failed_scheduling") == 1
    lists = [r for r in api.requests if r.startswith("/api/v1/pods?") and "watch" not in r]
    assert len(lists) == 2  # the first list and the relist after 410
    assert [p["name"] for p in collector.state()["pods"]] == ["research-agent-7d9f8b6c4d-x2k9p"]


async def test_a_node_deleted_while_away_is_reported_once_by_the_relist(
    running: tuple[K8sCollector, Recorder], api: ApiServer
) -> None:
    collector, sink = running
    node = fixture("node_lost")  # NotReady: seen, it is reported, so we know it was seen
    api.apply("nodes", node)
    await wait_for_async(lambda: "node_not_ready" in sink.kinds())
    api.set_reachable(False)
    await wait_for_async(lambda: collector.health().status == "unreachable")
    api.delete_node(node["metadata"]["name"])  # the watch never sees the DELETED event...
    api.compact()  # ...and its resourceVersion is too old: 410 Gone, relist
    api.set_reachable(True)
    await wait_for_async(lambda: "node_deleted" in sink.kinds())
    await wait_for_async(lambda: collector.health().status == "ok")
    await asyncio.sleep(2.5)  # a full watch timeout: any duplicate would have arrived
    assert sink.kinds().count("node_deleted") == 1
    deleted = next(e for e in sink.events if e.kind == "node_deleted")
    assert deleted.entity == f"node/{node['metadata']['name']}"
    assert deleted.attributes["k8s.node.name"] == node["metadata"]["name"]


async def test_unreachable_then_recovered(
    running: tuple[K8sCollector, Recorder], api: ApiServer
) -> None:
    collector, sink = running
    api.set_reachable(False)
    await wait_for_async(lambda: collector.health().status == "unreachable")
    assert "Connection" in collector.health().detail or "refused" in collector.health().detail
    assert sink.kinds().count("api_unreachable") == 1
    api.set_reachable(True)
    await wait_for_async(lambda: "api_recovered" in sink.kinds())
    assert collector.health().status == "ok"
    api.apply("pods", fixture("pod_oomkilled"))
    await wait_for_async(lambda: "oom_killed" in sink.kinds())  # watching resumed


async def test_expired_token_then_rotated(
    running: tuple[K8sCollector, Recorder], api: ApiServer, tmp_path: Path
) -> None:
    collector, sink = running
    api.require_token("rotated-token")
    await wait_for_async(lambda: collector.health().status == "unreachable")
    assert "401" in collector.health().detail
    assert "api_unreachable" in sink.kinds()
    api.write_kubeconfig(tmp_path / "kubeconfig", token="rotated-token")
    await wait_for_async(lambda: "api_recovered" in sink.kinds())
    api.apply("pods", fixture("pod_oomkilled"))
    await wait_for_async(lambda: "oom_killed" in sink.kinds())


async def test_no_metrics_api_is_quiet(api: ApiServer, tmp_path: Path) -> None:
    api.metrics = None
    cfg = K8sConfig(kubeconfig=api.write_kubeconfig(tmp_path / "k"), metrics_poll_seconds=0.1)
    collector = K8sCollector(cfg, Recorder())
    await collector.start()
    await wait_for_async(lambda: collector.state()["metrics_available"] is False)
    await asyncio.sleep(0.5)
    assert collector.health().status == "ok"
    metric_calls = [r for r in api.requests if "metrics.k8s.io" in r]
    assert len(metric_calls) == 1  # retried rarely, not every poll
    await collector.shutdown()


async def test_shutdown_is_quick_and_idempotent(api: ApiServer, tmp_path: Path) -> None:
    cfg = K8sConfig(kubeconfig=api.write_kubeconfig(tmp_path / "k"), watch_timeout_seconds=300)
    collector = K8sCollector(cfg, Recorder())
    started = time.monotonic()
    await collector.start()
    assert time.monotonic() - started < 0.5
    await wait_for_async(lambda: collector.health().status == "ok")
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await collector.shutdown()
    await collector.shutdown()
    assert time.monotonic() - started < 5
    assert collector.health().status == "stopped"
    assert not any(t.is_alive() for t in collector._threads)


async def test_memory_near_the_limit_for_long_is_memory_pressure(
    api: ApiServer, tmp_path: Path
) -> None:
    items = fixture("pod_metrics")["items"]
    research = next(i for i in items if i["metadata"]["name"].startswith("research"))
    for container in research["containers"]:  # 500 MiB of its 512 MiB limit
        container["usage"]["memory"] = f"{500 // len(research['containers'])}Mi"
    api.metrics = items
    cfg = K8sConfig(
        kubeconfig=api.write_kubeconfig(tmp_path / "k"),
        metrics_poll_seconds=0.1,
        memory_pressure_seconds=0.5,
    )
    sink = Recorder()
    collector = K8sCollector(cfg, sink)
    await collector.start()
    try:
        await wait_for_async(lambda: "memory_pressure" in sink.kinds())
        await asyncio.sleep(0.5)  # more polls: still one event for this episode
        (event,) = [e for e in sink.events if e.kind == "memory_pressure"]
        assert event.entity == "pod/agents/research-agent-7d9f8b6c4d-x2k9p"
        assert event.attributes["k8s.pod.memory.limit"] == 512 * 1024 * 1024
        assert event.summary.startswith("memory at 98% of its limit (500 of 512 MiB)")
    finally:
        await collector.shutdown()
