"""Kubernetes collector benchmark: a watch stream of 5,000 pods with bursts of 1,000 events/s.

The API server (``oracle_monitor/demo/apiserver.py``) runs in a subprocess with 5,000 recorded
agent pods; the collector (real ``kubernetes`` client) lists them, then the server sends
``--bursts`` bursts of 1,000 pod changes each (readiness flips, one event each), one burst a
second. Reported: the collector process's CPU time over wall time during the bursts (% of
one core; target < 30 %), its peak RSS (target < 150 MB), and that every change became an event.
Usage: ``python bench/k8s_watch.py [--pods 5000] [--bursts 10] [--rate 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.k8s_fixtures import fixture

from oracle_monitor.collectors.k8s import K8sCollector, K8sConfig
from oracle_monitor.demo.apiserver import ApiServer
from oracle_monitor.model import InfraEvent


def make_pod(index: int, ready: bool, second: int) -> dict[str, object]:
    """Pod ``index`` of the benchmark cluster, Ready or not since ``second``."""
    pod = copy.deepcopy(BASE)
    meta = pod["metadata"]
    meta["name"] = f"agent-{index // 100}-{index:05d}"
    meta["namespace"] = f"team-{index % 50}"
    meta["uid"] = f"00000000-0000-4000-8000-{index:012d}"
    stamp = f"2026-03-14T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
    for condition in pod["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition["status"] = "True" if ready else "False"
            condition["lastTransitionTime"] = stamp
    return pod


BASE = fixture("pod_running")


def serve(pods: int, bursts: int, rate: int) -> None:
    """Subprocess: run the fake with ``pods`` pods; on 'go', send the bursts."""
    with ApiServer() as api:
        for index in range(pods):
            api.apply("pods", make_pod(index, True, 0))
        print(api.port, flush=True)
        sys.stdin.readline()
        ready = [True] * pods
        for burst in range(bursts):
            started = time.monotonic()
            for n in range(rate):
                index = (burst * rate + n) % pods
                ready[index] = not ready[index]  # every change flips readiness: one event
                api.apply("pods", make_pod(index, ready[index], burst + 1))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        print("done", flush=True)
        sys.stdin.readline()


async def run(pods: int, bursts: int, rate: int) -> int:
    """Run the collector against the subprocess and print the figures."""
    cmd = [sys.executable, __file__, "--serve", f"--pods={pods}", f"--bursts={bursts}"]
    server = subprocess.Popen(  # noqa: ASYNC220
        [*cmd, f"--rate={rate}"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert server.stdin is not None and server.stdout is not None
    port = int(server.stdout.readline())
    count = [0]
    lock = threading.Lock()

    def sink(events: Sequence[InfraEvent]) -> None:
        with lock:
            count[0] += sum(1 for e in events if e.kind in ("pod_ready", "pod_not_ready"))

    with tempfile.TemporaryDirectory() as tmp:
        fake = ApiServer()
        fake.port = port
        kubeconfig = fake.write_kubeconfig(Path(tmp) / "kubeconfig")
        collector = K8sCollector(K8sConfig(kubeconfig=kubeconfig), sink)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await collector.start()
        while len(collector.state()["pods"]) < pods:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        print(f"initial list of {pods} pods: {time.monotonic() - wall0:.2f} s wall, "
              f"{time.process_time() - cpu0:.2f} s CPU")  # fmt: skip
        initial = count[0]
        cpu0, wall0 = time.process_time(), time.monotonic()
        server.stdin.write("go\n")
        server.stdin.flush()
        expected = initial + bursts * rate
        while count[0] < expected and time.monotonic() - wall0 < bursts + 30:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        server.stdout.readline()
        await collector.shutdown()
        server.stdin.write("stop\n")
        server.stdin.flush()
        server.wait(10)
    got = count[0] - initial
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bursts: {bursts} x {rate} changes/s to {pods} pods; events {got}/{bursts * rate}")
    print(f"collector CPU: {100 * cpu / wall:.1f} % of one core over {wall:.1f} s "
          f"(target < 30 %); peak RSS {rss_mb:.0f} MB (target < 150 MB)")  # fmt: skip
    return 0 if got == bursts * rate else 1


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.pods, args.bursts, args.rate)
        return 0
    return asyncio.run(run(args.pods, args.bursts, args.rate))


if __name__ == "__main__":
    sys.exit(main())
