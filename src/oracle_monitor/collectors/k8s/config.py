"""Configuration of the Kubernetes collector, built once from `Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oracle_monitor.config import Settings


@dataclass(frozen=True, slots=True)
class K8sConfig:
    """What the Kubernetes collector watches and how patiently.

    ``kubeconfig`` is the file to load, or ``None`` in a pod (service-account credentials).
    ``namespaces`` empty means cluster-wide list/watch. A watch request asks the API server to
    close it after ``watch_timeout_seconds`` (then it resumes from its resourceVersion);
    shutdown also closes open streams at once. Failed requests back off from
    ``backoff_initial_seconds`` doubling to ``backoff_max_seconds``. Without the metrics API
    (404) metrics are asked for again every ``metrics_retry_seconds``. A new pod of the same
    controller within ``reschedule_window_seconds`` of one dying replaces it. A pod using
    ``memory_pressure_ratio`` of its memory limit or more for ``memory_pressure_seconds`` is
    under memory pressure.
    """

    kubeconfig: Path | None
    in_cluster: bool = False
    namespaces: tuple[str, ...] = ()
    metrics_poll_seconds: float = 15.0
    watch_timeout_seconds: int = 60
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    metrics_retry_seconds: float = 600.0
    reschedule_window_seconds: float = 600.0
    request_timeout_seconds: float = 30.0
    memory_pressure_ratio: float = 0.9
    memory_pressure_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> K8sConfig | None:
        """The config, or ``None`` when there is no kubeconfig and we are not in a pod."""
        in_cluster = settings.k8s.kubeconfig is None and bool(settings.k8s.kubernetes_service_host)
        if settings.k8s.kubeconfig is None and not in_cluster:
            return None
        return cls(
            kubeconfig=settings.k8s.kubeconfig,
            in_cluster=in_cluster,
            namespaces=settings.k8s.watched_namespaces,
            metrics_poll_seconds=settings.k8s.metrics_poll_seconds,
            memory_pressure_ratio=settings.k8s.memory_pressure_ratio,
            memory_pressure_seconds=settings.k8s.memory_pressure_seconds,
        )
