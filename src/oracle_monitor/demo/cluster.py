"""A simulated Kubernetes cluster whose pods are real local processes.

`Cluster` runs an `ApiServer` (the real list/watch protocol, so the Kubernetes collector is
the same code that watches a real cluster) and plays kubelet and ReplicaSet controller for
its `Deployment`\\ s: each pod is a child process started with the downward-API variables
(``K8S_POD_NAME``, ``K8S_POD_UID``, ``K8S_NAMESPACE``, ``K8S_NODE_NAME``) and the deployment's
environment. Every ``tick_s`` it samples each process's resident memory (psutil) and CPU,
serves them as ``metrics.k8s.io`` pod metrics, and acts like Kubernetes:

* memory over the pod's limit → the process is SIGKILLed (the kernel's OOM killer in a
  cgroup), the container is ``terminated`` with ``reason: OOMKilled``, exit code 137; the pod
  fails and the ReplicaSet replaces it with a new pod (a new name and uid, the same owner)
  that starts a new process; the dead pod is deleted a moment later;
* a process that exits by itself is restarted in place: ``restartCount`` + 1, ``lastState``
  terminated with ``Error`` and its exit code, and after the second failure the
  ``CrashLoopBackOff`` wait, doubling from ``backoff_s`` (Kubernetes: 10 s, capped at 5 min);
* `evict` does what the kubelet does under node memory pressure: the pod fails with reason
  ``Evicted`` and a ``DisruptionTarget`` condition, and is replaced.

Pod changes are applied to the API server, so watchers see ADDED/MODIFIED/DELETED in order.
Everything binds 127.0.0.1; `stop` terminates every process it started (SIGTERM, then
SIGKILL) and the API server.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from oracle_monitor.demo.apiserver import ApiServer
from oracle_monitor.demo.pods import NODE, Deployment, MiB, Pod, pod_metrics, pod_object
from oracle_monitor.demo.pods import terminated_state as _terminated

log = logging.getLogger(__name__)


@dataclass
class _Running:
    """The process of a pod's running container."""

    process: subprocess.Popen[bytes]
    ps: psutil.Process | None
    rss: int = 0
    cpu_s: float = 0.0
    cpu_cores: float = 0.0
    sampled_s: float = 0.0


class Cluster:
    """The cluster: `add` deployments, `start`, then watch it through `kubeconfig`."""

    def __init__(self, log_dir: Path, *, tick_s: float = 0.2, backoff_s: float = 2.0,
                 ready_after_s: float = 1.0, delete_after_s: float = 1.0) -> None:  # fmt: skip
        self.api = ApiServer()
        self.api.metrics = self._metrics
        self.log_dir = log_dir
        self.tick_s, self.backoff_s = tick_s, backoff_s
        self.ready_after_s, self.delete_after_s = ready_after_s, delete_after_s
        self.deployments: dict[str, Deployment] = {}
        self.pods: dict[str, Pod] = {}  # by name, live and dying
        self._running: dict[str, _Running] = {}
        self._restart_at: dict[str, float] = {}
        self._delete_at: dict[str, float] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = itertools.count(1)
        #: (time, pod name, what) of every kill, restart and replacement, for the scenario.
        self.history: list[tuple[float, str, str]] = []

    # Lifecycle.

    def start(self) -> None:
        """Serve the API and start every deployment's pods."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.api.set_reachable(True)
        with self._lock:
            for deployment in self.deployments.values():
                for _ in range(deployment.replicas):
                    self._create_pod(deployment)
        self._thread = threading.Thread(target=self._loop, name="demo-cluster", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 8.0) -> None:
        """Terminate every pod's process (SIGTERM, then SIGKILL) and stop the API server."""
        self.stop_pods(timeout_s)
        self.api.set_reachable(False)

    def stop_pods(self, timeout_s: float = 8.0) -> None:
        """Stop the kubelet loop and terminate every pod's process (SIGTERM, then SIGKILL)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        for item in running:
            with contextlib.suppress(ProcessLookupError):
                item.process.terminate()
        deadline = time.monotonic() + timeout_s
        for item in running:
            try:
                item.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                item.process.kill()
                item.process.wait(5)

    def add(self, deployment: Deployment) -> Deployment:
        """Add a deployment (before or after `start`)."""
        with self._lock:
            self.deployments[deployment.name] = deployment
            if self._thread is not None:
                for _ in range(deployment.replicas):
                    self._create_pod(deployment)
        return deployment

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for this cluster (context ``oracle-demo``)."""
        return self.api.write_kubeconfig(path, token="oracle-demo", name="oracle-demo")

    # What the scenario may do.

    def live_pods(self, deployment: str) -> list[Pod]:
        """The deployment's pods that are not failed or being deleted."""
        with self._lock:
            return [p for p in self.pods.values()
                    if p.deployment.name == deployment and p.phase != "Failed"
                    and not p.deleted_s]  # fmt: skip

    def memory_of(self, pod_name: str) -> int:
        """The pod's last sampled resident memory in bytes (0 when not running)."""
        with self._lock:
            item = self._running.get(pod_name)
            return item.rss if item else 0

    def set_memory_limit(self, deployment: str, mib: int) -> None:
        """Change a deployment's memory limit (its pods are updated in place, like a resize)."""
        with self._lock:
            self.deployments[deployment].memory_limit_mib = mib
            for pod in self.pods.values():
                if pod.deployment.name == deployment:
                    self._publish(pod)

    def evict(self, pod_name: str, message: str = "") -> None:
        """Evict a pod as the kubelet does under node memory pressure, and replace it."""
        with self._lock:
            pod = self.pods[pod_name]
            now = time.time()
            used = self.memory_of(pod_name) // MiB
            self._kill(pod, signal.SIGKILL)
            pod.phase, pod.reason, pod.disrupted_s = "Failed", "Evicted", now
            pod.message = message or (
                "The node was low on resource: memory. Threshold quantity: 100Mi, "
                f"available: 92Mi. Container agent was using {used}Mi."
            )
            self._container_stopped(pod, "Error", 137, now, restart=False)
            self.history.append((now, pod.name, "evicted"))
            self._replace(pod, now)

    def roll_out(self, deployment: str) -> None:
        """Replace every pod of ``deployment`` with a new one (after its spec changed)."""
        with self._lock:
            now = time.time()
            for pod in self.live_pods(deployment):
                self._kill(pod, signal.SIGTERM)
                pod.deleted_s = now
                self._publish(pod)
                self._delete_at[pod.name] = now + self.delete_after_s
                self._create_pod(pod.deployment)

    # The kubelet and controller loop.

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                with self._lock:
                    self._tick(time.time())
            except Exception:  # keep the cluster alive; the scenario reads the log
                log.exception("cluster tick failed")

    def _tick(self, now: float) -> None:
        for name, item in list(self._running.items()):
            pod = self.pods[name]
            code = item.process.poll()
            if code is not None:
                del self._running[name]
                self.history.append((now, name, f"exited {code}"))
                self._container_stopped(pod, "Error" if code else "Completed", code, now)
                continue
            self._sample(item, now)
            if item.rss > pod.deployment.memory_limit_mib * MiB:
                self._oom_kill(pod, item, now)
                continue
            if not pod.ready and now - pod.started_s >= self.ready_after_s:
                pod.ready, pod.ready_changed_s = True, now
                self._publish(pod)
        for name, when in list(self._restart_at.items()):
            if now >= when:
                del self._restart_at[name]
                self._start_container(self.pods[name], now)
        for name, when in list(self._delete_at.items()):
            if now >= when:
                del self._delete_at[name]
                pod = self.pods[name]
                pod.deleted_s = now
                self._publish(pod)  # MODIFIED with its deletionTimestamp, then DELETED
                self.api.delete("pods", pod.deployment.namespace, pod.name)
                del self.pods[name]

    def _sample(self, item: _Running, now: float) -> None:
        if item.ps is None:
            return
        try:
            with item.ps.oneshot():
                item.rss = int(item.ps.memory_info().rss)
                times = item.ps.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return
        cpu = float(times.user + times.system)
        # CPU times tick in 10 ms: measure over a second or more, like metrics-server's window.
        if item.sampled_s and now - item.sampled_s < 1.0:
            return
        if item.sampled_s:
            item.cpu_cores = max(0.0, (cpu - item.cpu_s) / (now - item.sampled_s))
        item.cpu_s, item.sampled_s = cpu, now

    def _oom_kill(self, pod: Pod, item: _Running, now: float) -> None:
        limit = pod.deployment.memory_limit_mib
        log.info("OOM kill %s: %d MiB > %d MiB", pod.name, item.rss // MiB, limit)
        self._kill(pod, signal.SIGKILL)
        self.history.append((now, pod.name, f"oom_killed at {item.rss // MiB} MiB"))
        pod.phase, pod.reason = "Failed", ""
        self._container_stopped(pod, "OOMKilled", 137, now, restart=False)
        self._replace(pod, now)

    def _kill(self, pod: Pod, sig: int) -> None:
        item = self._running.pop(pod.name, None)
        if item is None:
            return
        with contextlib.suppress(ProcessLookupError):
            item.process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            item.process.wait(5)

    def _container_stopped(self, pod: Pod, reason: str, code: int, now: float,
                           restart: bool = True) -> None:  # fmt: skip
        state = _terminated(reason, code, pod.started_s or now, now, pod.container_id)
        pod.ready, pod.ready_changed_s, pod.started_s = False, now, 0.0
        if not restart:
            pod.terminated = state
            self._publish(pod)
            return
        # restartPolicy Always: restarted in place, backing off after repeated failures.
        pod.last_terminated, pod.terminated = state, None
        pod.restart_count += 1
        delay = 0.0
        if pod.restart_count >= 2:
            delay = min(self.backoff_s * 2 ** (pod.restart_count - 2), 300.0)
            pod.waiting_reason = "CrashLoopBackOff"
            pod.waiting_message = (
                f"back-off {delay:.0f}s restarting failed container=agent pod={pod.name}"
            )
        self._restart_at[pod.name] = now + delay
        self._publish(pod)

    def _replace(self, dead: Pod, now: float) -> None:
        """The ReplicaSet's answer to a failed pod: a new pod now, the dead one deleted soon."""
        replacement = self._create_pod(dead.deployment)
        self.history.append((now, dead.name, f"replaced by {replacement.name}"))
        self._delete_at[dead.name] = now + self.delete_after_s

    def _create_pod(self, deployment: Deployment) -> Pod:
        now = time.time()
        pod = Pod.new(deployment, now, f"{deployment.uid}/{next(self._seq)}")
        self.pods[pod.name] = pod
        self._publish(pod)  # ADDED, Pending
        self._start_container(pod, now)
        return pod

    def _start_container(self, pod: Pod, now: float) -> None:
        d = pod.deployment
        env = {
            **os.environ, **d.env, "K8S_POD_NAME": pod.name, "K8S_POD_UID": pod.uid,
            "K8S_NAMESPACE": d.namespace, "K8S_NODE_NAME": NODE, "HOSTNAME": pod.name,
        }  # fmt: skip
        with (self.log_dir / f"{pod.name}.log").open("ab") as out:
            process = subprocess.Popen(
                d.command, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # Ctrl-C reaches us, not it
            )  # fmt: skip
        try:
            ps: psutil.Process | None = psutil.Process(process.pid)
        except psutil.NoSuchProcess:
            ps = None
        self._running[pod.name] = _Running(process, ps)
        pod.phase, pod.started_s = "Running", now
        pod.waiting_reason = pod.waiting_message = ""
        pod.container_id = f"containerd://{os.urandom(32).hex()}"
        self._publish(pod)

    def _publish(self, pod: Pod) -> None:
        if pod.name in self.pods:
            self.api.apply("pods", pod_object(pod))

    def _metrics(self) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            return [pod_metrics(self.pods[name], item.cpu_cores, item.rss, now)
                    for name, item in self._running.items() if name in self.pods]  # fmt: skip

    def pids(self) -> list[int]:
        """Process ids of the running pods (for the demo's leak check)."""
        with self._lock:
            return [item.process.pid for item in self._running.values()]
