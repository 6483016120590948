"""The demo cluster: pods are real processes; the real Kubernetes collector watches them.

No Kubernetes can run here; `oracle_monitor.demo.cluster` speaks the list/watch protocol and
plays kubelet and ReplicaSet for local processes, which is what these tests exercise.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from kubernetes import client, config  # type: ignore[import-untyped,unused-ignore]

from oracle_monitor.collectors.k8s import K8sCollector, K8sConfig
from oracle_monitor.demo.cluster import Cluster
from oracle_monitor.demo.pods import Deployment
from oracle_monitor.demo.ports import listening
from oracle_monitor.model import InfraEvent
from tests.waiting import wait_for_async

pytestmark = pytest.mark.integration
#: Grows by 8 MiB every 0.1 s once the file named by GROW exists; prints its pod name first.
HUNGRY = (
    "import os, sys, time\n"
    "print(os.environ['K8S_POD_NAME'], flush=True)\n"
    "held = []\n"
    "while True:\n"
    "    if os.path.exists(os.environ['GROW']):\n"
    "        held.append(bytearray(8 * 1024 * 1024))\n"
    "    time.sleep(0.1)\n"
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[InfraEvent] = []

    def __call__(self, events: Sequence[InfraEvent]) -> None:
        self.events.extend(events)

    def of(self, kind: str) -> list[InfraEvent]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Cluster, Recorder, Path]]:
    grow = tmp_path / "grow"
    demo = Cluster(tmp_path / "logs", tick_s=0.1, backoff_s=0.5, ready_after_s=0.3)
    demo.add(Deployment("hungry-agent", [sys.executable, "-c", HUNGRY], {"GROW": str(grow)},
                        agent="hungry", memory_limit_mib=80))  # fmt: skip
    demo.add(Deployment("crashing-agent", [sys.executable, "-c", "raise SystemExit(3)"],
                        agent="crashing"))  # fmt: skip
    demo.start()
    cfg = K8sConfig(kubeconfig=demo.write_kubeconfig(tmp_path / "kubeconfig"),
                    watch_timeout_seconds=5, metrics_poll_seconds=0.2)  # fmt: skip
    sink = Recorder()
    collector = K8sCollector(cfg, sink)
    await collector.start()
    try:
        yield demo, sink, grow
    finally:
        await collector.shutdown()
        demo.stop()


async def test_memory_over_the_limit_is_an_oom_kill_and_a_new_pod(
    cluster: tuple[Cluster, Recorder, Path],
) -> None:
    demo, sink, grow = cluster
    await wait_for_async(lambda: sink.of("pod_ready") and demo.live_pods("hungry-agent"))
    [first] = demo.live_pods("hungry-agent")
    pid = demo._running[first.name].process.pid
    await wait_for_async(lambda: demo.memory_of(first.name) > 5 * 1024 * 1024)
    grow.touch()
    await wait_for_async(lambda: sink.of("pod_rescheduled"))
    grow.unlink()
    [oom] = [e for e in sink.of("oom_killed") if e.entity.endswith(first.name)]
    assert oom.attributes["k8s.container.exit_code"] == 137
    [moved] = sink.of("pod_rescheduled")
    assert moved.attributes["oracle.k8s.replaced_pod.name"] == first.name
    assert moved.time_ns >= oom.time_ns
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    await wait_for_async(
        lambda: [e for e in sink.of("pod_deleted") if e.entity.endswith(first.name)]
    )
    [second] = demo.live_pods("hungry-agent")
    assert (
        second.name != first.name and second.name.rsplit("-", 1)[0] == first.name.rsplit("-", 1)[0]
    )
    assert (demo.log_dir / f"{second.name}.log").read_text().strip() == second.name


async def test_a_process_that_exits_restarts_in_place_and_crash_loops(
    cluster: tuple[Cluster, Recorder, Path],
) -> None:
    demo, sink, _ = cluster
    await wait_for_async(lambda: sink.of("crash_loop"))
    [pod] = demo.live_pods("crashing-agent")
    restarts = [e for e in sink.of("container_restarted") if e.entity.endswith(pod.name)]
    assert restarts and restarts[0].attributes["k8s.container.exit_code"] == 3
    assert not sink.of("pod_rescheduled")


async def test_the_official_client_parses_pods_and_metrics(
    cluster: tuple[Cluster, Recorder, Path], tmp_path: Path
) -> None:
    demo, sink, _ = cluster
    await wait_for_async(lambda: sink.of("pod_ready"))
    api: Any = config.new_client_from_config(str(tmp_path / "kubeconfig"))  # type: ignore[no-untyped-call,unused-ignore]
    pods: Any = await asyncio.to_thread(client.CoreV1Api(api).list_namespaced_pod, "agents")
    hungry = next(p for p in pods.items if p.metadata.name.startswith("hungry-agent-"))
    assert hungry.spec.containers[0].resources.limits["memory"] == "80Mi"
    assert hungry.metadata.owner_references[0].kind == "ReplicaSet"
    assert {e.name for e in hungry.spec.containers[0].env} >= {"GROW"}
    metrics: Any = await asyncio.to_thread(
        client.CustomObjectsApi(api).list_namespaced_custom_object,
        "metrics.k8s.io", "v1beta1", "agents", "pods",
    )  # fmt: skip
    usage = {m["metadata"]["name"]: m["containers"][0]["usage"]["memory"] for m in metrics["items"]}
    assert usage[hungry.metadata.name].endswith("Ki")
    cpu = {m["metadata"]["name"]: m["containers"][0]["usage"]["cpu"] for m in metrics["items"]}
    assert cpu[hungry.metadata.name].endswith("n")
    assert int(usage[hungry.metadata.name][:-2]) * 1024 == pytest.approx(
        demo.memory_of(hungry.metadata.name), rel=0.5
    )
    api.close()


async def test_stop_leaves_no_process(tmp_path: Path) -> None:
    demo = Cluster(tmp_path / "logs", tick_s=0.1)
    demo.add(Deployment("sleepy", [sys.executable, "-c", "import time; time.sleep(60)"],
                        replicas=2))  # fmt: skip
    demo.start()
    pids = demo.pids()
    assert len(pids) == 2
    port = demo.api.port
    demo.stop()
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert not listening(port)


async def test_cpu_usage_is_measured(tmp_path: Path) -> None:
    demo = Cluster(tmp_path / "logs", tick_s=0.1)
    busy = "import time\nend = time.time() + 20\nwhile time.time() < end: pass\n"
    demo.add(Deployment("busy", [sys.executable, "-c", busy]))
    demo.start()
    try:
        await wait_for_async(
            lambda: demo._metrics() and demo._metrics()[0]["containers"][0]["usage"]["cpu"] != "0n",
            6,
        )
        cpu = demo._metrics()[0]["containers"][0]["usage"]["cpu"]
        assert 0.2 <= int(cpu[:-1]) / 1e9 <= 1.5
    finally:
        demo.stop()
