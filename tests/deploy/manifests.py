"""Loading the deployment files: YAML documents, kustomize renders, schema validation."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("single-node", "production", "scale-out")
#: Renders that run the all-in-one `oracle-monitor serve` (scale-out splits it in three roles).
ALL_IN_ONE = ("base", "overlays/single-node", "overlays/production")
#: Kubernetes versions whose OpenAPI schemas (shipped in `kubernetes-validate`) we check:
#: the oldest release still commonly run by managed services, and the newest.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

Manifest = dict[str, Any]


def load_documents(path: Path) -> list[Manifest]:
    """Every non-empty YAML document in a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def raw_manifest_files() -> list[Path]:
    """Every YAML file under deploy/k8s that holds Kubernetes objects (not kustomize input)."""
    files = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or "redpanda" in path.parent.name:
            continue
        if path.name == "redpanda-bootstrap.yaml":
            continue
        files.append(path)
    return files


def kustomize(directory: Path) -> list[Manifest]:
    """Render a kustomization with the real kustomize (the one built into `kubectl`).

    No kustomize is packaged for PyPI (the `kustomize` package there generates manifests
    in Python; `pykustomize` needs Python 3.14), so the render uses `kubectl kustomize`,
    which embeds kustomize v5 and needs no cluster.
    """
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def validate(manifest: Manifest, version: str) -> None:
    """Validate one object against the Kubernetes OpenAPI schema, strictly (no unknown fields).

    Raises `kubernetes_validate.ValidationError` (or `SchemaNotFoundError` for an unknown
    kind) with the schema's message.
    """
    kubernetes_validate.validate(manifest, version, strict=True)


def containers(manifest: Manifest) -> Iterator[Manifest]:
    """Containers and init containers of a workload's pod template."""
    if manifest["kind"] not in ("Deployment", "StatefulSet", "Job"):
        return
    spec = manifest["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    """Objects of one kind, by ``namespace/name``."""
    return {
        f"{m['metadata'].get('namespace', '')}/{m['metadata']['name']}": m
        for m in manifests
        if m["kind"] == kind
    }
