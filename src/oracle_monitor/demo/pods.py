"""The demo cluster's objects: deployments of agent processes, and their pods as the API shows them.

`pod_object` renders a `Pod` as a complete ``v1.Pod`` (the fields the ``kubernetes`` 37.x
client's strict models require, and those a real kubelet fills in: conditions, container
statuses with ``image``/``imageID``/``containerID``, ``qosClass``…). Pure: the caller owns the
clock and the processes. Times carry microseconds (RFC 3339), so that events a fraction of a
second apart keep their order.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "agents"
NODE = "demo-node-1"
IMAGE = "ghcr.io/oracle-monitor/agents:demo"
IMAGE_ID = IMAGE.rsplit(":", 1)[0] + "@sha256:" + hashlib.sha256(IMAGE.encode()).hexdigest()
MiB = 1024 * 1024


def rfc3339(unix_s: float) -> str:
    """Unix seconds as RFC 3339 UTC with microseconds."""
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _suffix(seed: str, length: int) -> str:
    """Kubernetes-style random-looking name suffix (consonants and digits)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


@dataclass
class Deployment:
    """A Deployment of one agent kind: the process every pod of it runs, and its resources."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    agent: str = ""
    memory_limit_mib: int = 512
    memory_request_mib: int = 128
    replicas: int = 1
    namespace: str = NAMESPACE
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def template_hash(self) -> str:
        """The pod-template-hash of its current ReplicaSet."""
        return _suffix(self.name + " ".join(self.command), 10)

    @property
    def replicaset(self) -> str:
        """The ReplicaSet's name (``<deployment>-<hash>``)."""
        return f"{self.name}-{self.template_hash}"

    @property
    def replicaset_uid(self) -> str:
        """A stable uid of the ReplicaSet (the pods' controller)."""
        return str(uuid.uuid5(uuid.UUID(self.uid), self.replicaset))


@dataclass
class Pod:
    """One pod: its identity and what the kubelet would report about its one container."""

    deployment: Deployment
    name: str
    uid: str
    created_s: float
    phase: str = "Pending"
    reason: str = ""
    message: str = ""
    ready: bool = False
    ready_changed_s: float = 0.0
    started_s: float = 0.0  # the running container's start, 0 when not running
    container_id: str = ""
    restart_count: int = 0
    waiting_reason: str = ""
    waiting_message: str = ""
    last_terminated: dict[str, Any] | None = None
    terminated: dict[str, Any] | None = None  # the current state, when terminated
    deleted_s: float = 0.0
    disrupted_s: float = 0.0

    @classmethod
    def new(cls, deployment: Deployment, now_s: float, seed: str) -> Pod:
        """A new pod of ``deployment``, named like a ReplicaSet names its pods."""
        name = f"{deployment.replicaset}-{_suffix(seed, 5)}"
        return cls(deployment, name, str(uuid.uuid4()), now_s, ready_changed_s=now_s)

    @property
    def entity(self) -> str:
        """``pod/<namespace>/<name>``."""
        return f"pod/{self.deployment.namespace}/{self.name}"


def terminated_state(reason: str, exit_code: int, started_s: float, finished_s: float,
                     container_id: str) -> dict[str, Any]:  # fmt: skip
    """A container's ``terminated`` state."""
    return {"exitCode": exit_code, "reason": reason, "startedAt": rfc3339(started_s),
            "finishedAt": rfc3339(finished_s), "containerID": container_id}  # fmt: skip


def _condition(kind: str, status: bool, since_s: float, reason: str = "") -> dict[str, Any]:
    found = {"type": kind, "status": "True" if status else "False", "lastProbeTime": None,
             "lastTransitionTime": rfc3339(since_s)}  # fmt: skip
    if reason:
        found["reason"] = reason
    return found


def _container_status(pod: Pod) -> dict[str, Any]:
    if pod.terminated is not None:
        state: dict[str, Any] = {"terminated": pod.terminated}
    elif pod.started_s:
        state = {"running": {"startedAt": rfc3339(pod.started_s)}}
    else:
        waiting = {"reason": pod.waiting_reason or "ContainerCreating"}
        if pod.waiting_message:
            waiting["message"] = pod.waiting_message
        state = {"waiting": waiting}
    status = {
        "name": "agent", "state": state,
        "lastState": {"terminated": pod.last_terminated} if pod.last_terminated else {},
        "ready": pod.ready, "restartCount": pod.restart_count, "image": IMAGE,
        "imageID": IMAGE_ID, "started": bool(pod.started_s),
    }  # fmt: skip
    if pod.container_id:
        status["containerID"] = pod.container_id
    return status


def pod_object(pod: Pod) -> dict[str, Any]:
    """The pod as the API server serves it (camelCase JSON of ``v1.Pod``)."""
    d = pod.deployment
    memory = {"limits": {"cpu": "1", "memory": f"{d.memory_limit_mib}Mi"},
              "requests": {"cpu": "100m", "memory": f"{d.memory_request_mib}Mi"}}  # fmt: skip
    env = [{"name": k, "value": v} for k, v in sorted(d.env.items())]
    metadata: dict[str, Any] = {
        "name": pod.name, "generateName": f"{d.replicaset}-", "namespace": d.namespace,
        "uid": pod.uid, "creationTimestamp": rfc3339(pod.created_s),
        "labels": {"app.kubernetes.io/name": d.agent or d.name,
                   "app.kubernetes.io/part-of": "oracle-demo",
                   "pod-template-hash": d.template_hash},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": d.replicaset,
                             "uid": d.replicaset_uid, "controller": True,
                             "blockOwnerDeletion": True}],
    }  # fmt: skip
    if pod.deleted_s:
        metadata["deletionTimestamp"] = rfc3339(pod.deleted_s)
        metadata["deletionGracePeriodSeconds"] = 0
    spec = {
        "containers": [{"name": "agent", "image": IMAGE, "command": d.command[:1],
                        "args": d.command[1:], "env": env, "resources": memory,
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
        "serviceAccount": "default", "nodeName": NODE, "securityContext": {},
        "schedulerName": "default-scheduler", "priority": 0, "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }  # fmt: skip
    created = pod.created_s
    conditions = [
        _condition("PodReadyToStartContainers", True, created),
        _condition("Initialized", True, created),
        _condition("Ready", pod.ready, pod.ready_changed_s),
        _condition("ContainersReady", pod.ready, pod.ready_changed_s),
        _condition("PodScheduled", True, created),
    ]
    if pod.disrupted_s:
        conditions.append(
            _condition("DisruptionTarget", True, pod.disrupted_s, "TerminationByKubelet")
        )
    status: dict[str, Any] = {
        "phase": pod.phase, "conditions": conditions, "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}], "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": rfc3339(created), "containerStatuses": [_container_status(pod)],
        "qosClass": "Burstable",
    }  # fmt: skip
    if pod.reason:
        status["reason"] = pod.reason
    if pod.message:
        status["message"] = pod.message
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec,
            "status": status}  # fmt: skip


def pod_metrics(pod: Pod, cpu_cores: float, memory_bytes: int, now_s: float) -> dict[str, Any]:
    """A ``metrics.k8s.io/v1beta1`` PodMetrics item for the pod."""
    d = pod.deployment
    return {
        "metadata": {"name": pod.name, "namespace": d.namespace,
                     "creationTimestamp": rfc3339(now_s),
                     "labels": {"app.kubernetes.io/name": d.agent or d.name,
                                "pod-template-hash": d.template_hash}},
        "timestamp": rfc3339(now_s), "window": "1s",
        "containers": [{"name": "agent", "usage": {"cpu": f"{round(cpu_cores * 1e9)}n",
                                                   "memory": f"{memory_bytes // 1024}Ki"}}],
    }  # fmt: skip
