"""The pods that run a consumer group, and the pod problems that leave it without consumers.

A group's lag grows when the pods that run it cannot run: a rollout whose new image cannot be
pulled, a crash loop, a bad config, nothing schedulable, an eviction. Pure: no I/O, no clock.

A group's *runners* are known from

* the members the broker last reported for it: the Kafka collector puts their client ids and
  hosts on the group's ``lag_spike`` and ``consumer_status_changed`` events
  (``oracle.kafka.consumer.members``); a member names its pod when its ``client.id`` is the pod's
  name, as the downward API makes easy;
* the CONSUMER spans of the group (``messaging.consumer.group.name`` or
  ``messaging.kafka.consumer.group``): the pod (``k8s.pod.name``) and workload
  (``k8s.deployment.name``, ``k8s.statefulset.name``, ``k8s.replicaset.name``…) they ran in.

A pod event *starves* the group when its kind is in `STARVING` and its pod is a runner or
belongs to a runner's workload: the workload the event names (the Kubernetes collector puts the
pod's Deployment, StatefulSet or owner on it) is a runner span's workload, or names a runner
pod as Kubernetes names the pods it makes (``<deployment>-<template hash>-<suffix>``,
``<statefulset>-<ordinal>``, ``<owner>-<suffix>``). An event that names no workload (a core/v1
Event such as ``FailedScheduling`` names only its pod) starves the group when its pod and a
runner pod are named as two pods of one Deployment. Namespaces must agree when both are known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from oracle_monitor.model import InfraEvent, Span, SpanKind

__all__ = ["GROUP_KEYS", "STARVING", "Runners", "group_of", "runners_of", "starves"]

#: Pod event kinds after which the pod runs no consumer.
STARVING = frozenset(
    {"image_pull_backoff", "crash_loop", "config_error", "failed_scheduling", "pod_evicted",
     "oom_killed"}
)  # fmt: skip
GROUP_KEYS = ("messaging.consumer.group.name", "messaging.kafka.consumer.group")
#: Workload attributes of a span's resource or a pod event, as (kind, attribute).
WORKLOAD_KEYS = (
    ("Deployment", "k8s.deployment.name"),
    ("StatefulSet", "k8s.statefulset.name"),
    ("DaemonSet", "k8s.daemonset.name"),
    ("ReplicaSet", "k8s.replicaset.name"),
    ("Job", "k8s.job.name"),
)
#: What follows ``<workload>-`` in the names of the pods Kubernetes makes for it.
_POD_SUFFIX = {
    "Deployment": re.compile(r"[a-z0-9]{1,10}-[a-z0-9]{5}"),
    "StatefulSet": re.compile(r"\d+"),
}
_OTHER_SUFFIX = re.compile(r"[a-z0-9]{5}")
_DEPLOYMENT_POD = re.compile(r"(?P<deployment>.+)-[a-z0-9]{1,10}-[a-z0-9]{5}")


@dataclass(slots=True)
class Runners:
    """The pods (``(namespace or "", name)``) and workloads (``(namespace or "", kind,
    name)``) known to run one consumer group."""

    pods: set[tuple[str, str]] = field(default_factory=set)
    workloads: set[tuple[str, str, str]] = field(default_factory=set)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def group_of(attributes: Mapping[str, object]) -> str:
    """The consumer group named by span or event ``attributes`` (``""`` when none)."""
    return next((_text(attributes.get(key)) for key in GROUP_KEYS if attributes.get(key)), "")


def _workloads(attributes: Mapping[str, object]) -> list[tuple[str, str]]:
    found = [(kind, _text(attributes[key])) for kind, key in WORKLOAD_KEYS if attributes.get(key)]
    owner = _text(attributes.get("k8s.owner.name"))
    if owner:
        found.append((_text(attributes.get("k8s.owner.kind")), owner))
    return found


def runners_of(group: str, events: Iterable[InfraEvent], spans: Iterable[Span]) -> Runners:
    """The runners of ``group`` that the Kafka collector's group ``events`` (their members)
    and the CONSUMER ``spans`` of the group (their pods and workloads) show."""
    runners = Runners()
    for event in events:
        if group_of(event.attributes) != group:
            continue
        members = event.attributes.get("oracle.kafka.consumer.members")
        if isinstance(members, list):
            runners.pods.update(("", _text(member)) for member in members if member)
    for span in spans:
        if span.kind != SpanKind.CONSUMER:
            continue
        merged = {**span.resource, **span.attributes}
        if group_of(merged) != group:
            continue
        namespace = _text(merged.get("k8s.namespace.name")) or (span.namespace or "")
        pod = _text(merged.get("k8s.pod.name")) or (span.pod_name or "")
        if pod:
            runners.pods.add((namespace, pod))
        runners.workloads.update((namespace, kind, name) for kind, name in _workloads(merged))
    return runners


def _same(one: str, other: str) -> bool:
    return not one or not other or one == other


def _made_by(pod: str, kind: str, workload: str) -> bool:
    """Whether ``pod`` is named as Kubernetes names the pods of ``workload``."""
    if not pod.startswith(workload + "-"):
        return False
    return bool(_POD_SUFFIX.get(kind, _OTHER_SUFFIX).fullmatch(pod[len(workload) + 1 :]))


def starves(event: InfraEvent, runners: Runners) -> bool:
    """Whether pod ``event`` left a pod of the group's runners unable to consume."""
    if event.kind not in STARVING or not event.entity.startswith("pod/"):
        return False
    a = event.attributes
    _, namespace, name = [*event.entity.split("/", 2), "", ""][:3]
    namespace = _text(a.get("k8s.namespace.name")) or namespace
    name = _text(a.get("k8s.pod.name")) or name
    if any(pod == name and _same(ns, namespace) for ns, pod in runners.pods):
        return True
    workloads = _workloads(a)
    if not workloads:
        stem = _DEPLOYMENT_POD.fullmatch(name)
        workloads = [("Deployment", stem["deployment"])] if stem else []
    for ns, _kind, workload in runners.workloads:
        if _same(ns, namespace) and any(w == workload for _, w in workloads):
            return True
    return any(
        _made_by(pod, kind, workload) and _same(ns, namespace)
        for ns, pod in runners.pods
        for kind, workload in workloads
    )
