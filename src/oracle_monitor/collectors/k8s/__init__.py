"""Kubernetes collector: pods, core Events and pod metrics of one cluster, as `InfraEvent`s.

On with ``--kubeconfig`` (``ORACLE_KUBECONFIG``), or inside a pod (``KUBERNETES_SERVICE_HOST``
set: the service account's token, see ``deploy/k8s/rbac.yaml`` for the permissions).
"""

from __future__ import annotations

from oracle_monitor.collectors.base import Collector, EventSink
from oracle_monitor.collectors.k8s.config import K8sConfig
from oracle_monitor.collectors.k8s.watcher import K8sCollector
from oracle_monitor.config import Settings
from oracle_monitor.store.base import Store

__all__ = ["K8sCollector", "K8sConfig", "create"]


def create(
    settings: Settings,
    sink: EventSink,
    *,
    store: Store | None = None,
) -> Collector | None:
    """The Kubernetes collector, or ``None`` without a kubeconfig outside a pod.

    ``store`` is part of the factory signature (`oracle_monitor.collectors.registry`); this
    collector does not read the store.
    """
    cfg = K8sConfig.from_settings(settings)
    return None if cfg is None else K8sCollector(cfg, sink)
