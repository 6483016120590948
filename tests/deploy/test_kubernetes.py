"""deploy/k8s: every manifest valid against the Kubernetes OpenAPI schemas (offline, with
`kubernetes-validate`), the kustomize base and overlays render (real kustomize, in kubectl),
and the rendered objects keep the promises: least-privilege RBAC, probes on the health route,
resources on every container, secrets by reference only, downward-API variables on agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    ALL_IN_ONE,
    K8S,
    KUBERNETES_VERSIONS,
    OVERLAYS,
    Manifest,
    by_kind,
    containers,
    kustomize,
    load_documents,
    raw_manifest_files,
    validate,
)

RENDERS = ("base", *(f"overlays/{name}" for name in OVERLAYS))
AGENT_KINDS = {"research-agent": "research", "writer-agent": "writer",
               "analysis-agent": "analysis", "tool-worker": "tools"}  # fmt: skip
DOWNWARD = {
    "K8S_POD_NAME": "metadata.name",
    "K8S_POD_UID": "metadata.uid",
    "K8S_NAMESPACE": "metadata.namespace",
    "K8S_NODE_NAME": "spec.nodeName",
}


@pytest.fixture(scope="module", params=RENDERS)
def rendered(request: pytest.FixtureRequest) -> list[Manifest]:
    return kustomize(K8S / request.param)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    return request.param, kustomize(K8S / "overlays" / request.param)


def test_there_are_manifests() -> None:
    files = {path.relative_to(K8S).as_posix() for path in raw_manifest_files()}
    assert {"rbac.yaml", "base/monitor.yaml", "base/agents.yaml", "base/rbac.yaml"} <= files


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", raw_manifest_files(), ids=lambda p: p.relative_to(K8S).as_posix())
def test_file_documents_are_valid(path: Path, version: str) -> None:
    documents = load_documents(path)
    assert documents, f"{path} holds no object"
    for document in documents:
        if document.get("kind") is None:  # a strategic-merge patch is a partial object
            pytest.fail(f"{path}: a document without kind")
        if path.parent.name in OVERLAYS:
            continue  # patches are partial objects: validated once rendered, below
        validate(document, version)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_objects_are_valid(rendered: list[Manifest], version: str) -> None:
    assert len(rendered) >= 15
    for manifest in rendered:
        validate(manifest, version)


def test_the_validator_catches_mistakes() -> None:
    broken: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "x",
                 "image": "x", "readinessProbe": {"httpGet": {"path": "/"}}}]}}},
    }  # fmt: skip
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken, KUBERNETES_VERSIONS[-1])  # httpGet without port
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"typo": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken, KUBERNETES_VERSIONS[-1])  # unknown field, strict


def test_every_container_has_requests_and_limits(rendered: list[Manifest]) -> None:
    for manifest in rendered:
        for container in containers(manifest):
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), (
                    f"{manifest['metadata']['name']}/{container['name']}: {part}"
                )
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_pods_run_as_non_root(rendered: list[Manifest]) -> None:
    for manifest in rendered:
        if manifest["kind"] in ("Deployment", "StatefulSet", "Job"):
            pod = manifest["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] > 0


@pytest.mark.parametrize("render", ALL_IN_ONE)
def test_monitor_probes_the_health_route(render: str) -> None:
    monitor = by_kind(kustomize(K8S / render), "Deployment")["oracle-monitor/oracle-monitor"]
    (container,) = monitor["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/api/v1/health", "port": "http"}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"otlp-grpc": 4317, "otlp-http": 4318, "http": 8000}
    assert monitor["spec"]["template"]["spec"]["serviceAccountName"] == "oracle-monitor"


def test_rbac_is_least_privilege(rendered: list[Manifest]) -> None:
    assert not by_kind(rendered, "ClusterRole")  # namespaced: the agents' namespace only
    (role,) = by_kind(rendered, "Role").values()
    assert role["metadata"]["namespace"] == "agents"
    rules = {
        (tuple(rule["apiGroups"]), tuple(rule["resources"]), tuple(rule["verbs"]))
        for rule in role["rules"]
    }
    assert rules == {
        (("",), ("pods", "events"), ("get", "list", "watch")),
        (("metrics.k8s.io",), ("pods",), ("get", "list")),
    }
    (binding,) = by_kind(rendered, "RoleBinding").values()
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "oracle-monitor", "namespace": "oracle-monitor"}
    ]
    (monitor_config,) = [
        m for key, m in by_kind(rendered, "ConfigMap").items()
        if key.startswith("oracle-monitor/oracle-monitor-config")
    ]  # fmt: skip
    assert monitor_config["data"]["ORACLE_K8S_NAMESPACES"] == "agents"


def test_cluster_wide_rbac_variant() -> None:
    documents = {doc["kind"]: doc for doc in load_documents(K8S / "rbac.yaml")}
    assert documents["ClusterRole"]["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
    ]


def test_secrets_only_by_reference(rendered: list[Manifest]) -> None:
    assert not by_kind(rendered, "Secret")
    for manifest in rendered:
        for container in containers(manifest):
            for variable in container.get("env", []):
                name = variable["name"]
                if any(word in name for word in ("TOKEN", "KEY", "HEADERS", "STORE", "PASSWORD")):
                    assert "value" not in variable, f"{name} given in clear"
                    assert "secretKeyRef" in variable["valueFrom"], name


def test_agents_are_deployments_with_the_downward_api(rendered: list[Manifest]) -> None:
    deployments = by_kind(rendered, "Deployment")
    for name, kind in AGENT_KINDS.items():
        agent = deployments[f"agents/{name}"]
        pod = agent["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", "oracle_monitor.agents", kind]
        env = {variable["name"]: variable for variable in container["env"]}
        for variable, field in DOWNWARD.items():
            assert env[variable]["valueFrom"]["fieldRef"]["fieldPath"] == field
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].endswith(
            "oracle-monitor.oracle-monitor.svc.cluster.local:4317"
        )
        assert env["OTEL_SERVICE_NAME"]["value"] == name
        assert env["ORACLE_AGENT_KAFKA_BOOTSTRAP"]["value"].startswith("redpanda.agents.svc")
        if kind != "tools":
            assert env["ORACLE_AGENT_OPENAI_BASE_URL"]["value"].startswith("http://llm-proxy.")


def test_redpanda_config_and_topics(rendered: list[Manifest]) -> None:
    configs = by_kind(rendered, "ConfigMap")
    (redpanda,) = [m for key, m in configs.items() if key.startswith("agents/redpanda-config")]
    assert "auto_create_topics_enabled: false" in redpanda["data"]["bootstrap.yaml"]
    script = redpanda["data"]["topics.sh"]
    for topic in ("tasks.research", "tasks.writer", "tasks.analysis", "tool-requests",
                  "tool-responses", "results", "tasks.dlq"):  # fmt: skip
        assert topic in script
    statefulset = by_kind(rendered, "StatefulSet")["agents/redpanda"]
    volumes = statefulset["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": redpanda["metadata"]["name"]}} in volumes


def test_single_node_keeps_sqlite_on_a_volume() -> None:
    rendered = kustomize(K8S / "overlays" / "single-node")
    monitor = by_kind(rendered, "Deployment")["oracle-monitor/oracle-monitor"]
    assert monitor["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in monitor["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {
        "name": "data",
        "persistentVolumeClaim": {"claimName": "oracle-monitor-data"},
    }
    assert "oracle-monitor/oracle-monitor-data" in by_kind(rendered, "PersistentVolumeClaim")
    env = monitor["spec"]["template"]["spec"]["containers"][0].get("env", [])
    assert "ORACLE_STORE" not in {variable["name"] for variable in env}  # the SQLite default


def test_production_uses_postgres_and_three_brokers() -> None:
    rendered = kustomize(K8S / "overlays" / "production")
    monitor = by_kind(rendered, "Deployment")["oracle-monitor/oracle-monitor"]
    env = {v["name"]: v for v in monitor["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ORACLE_STORE"]["valueFrom"]["secretKeyRef"] == {
        "name": "oracle-monitor-store",
        "key": "url",
    }
    assert env["ORACLE_API_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is False
    redpanda = by_kind(rendered, "StatefulSet")["agents/redpanda"]
    assert redpanda["spec"]["replicas"] == 3
    (container,) = redpanda["spec"]["template"]["spec"]["containers"]
    seeds = next(arg for arg in container["args"] if arg.startswith("--seeds="))
    assert seeds.count(":33145") == 3
    job = by_kind(rendered, "Job")["agents/redpanda-topics"]
    job_env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "REPLICAS", "value": "3"} in job_env
    configs = by_kind(rendered, "ConfigMap")
    (redpanda_config,) = [m for k, m in configs.items() if k.startswith("agents/redpanda-config")]
    assert "default_topic_replications: 3" in redpanda_config["data"]["bootstrap.yaml"]
    assert by_kind(rendered, "Deployment")["agents/research-agent"]["spec"]["replicas"] == 3
    assert "agents/redpanda" in by_kind(rendered, "PodDisruptionBudget")


def _known_variables() -> set[str]:
    from pydantic_settings import BaseSettings

    from oracle_monitor.agents.settings import AgentSettings
    from oracle_monitor.config import ProxySettings, Settings, variables

    names: set[str] = set()
    kinds: list[type[BaseSettings]] = [*Settings.groups().values(), ProxySettings, AgentSettings]
    for kind in kinds:
        for name in kind.model_fields:
            names.update(variables(kind, name))
    return names


def test_every_oracle_variable_in_the_manifests_is_a_setting(rendered: list[Manifest]) -> None:
    known = _known_variables()
    used = set()
    for manifest in rendered:
        if manifest["kind"] == "ConfigMap":
            used |= {key for key in manifest.get("data", {}) if key.startswith("ORACLE_")}
        for container in containers(manifest):
            used |= {v["name"] for v in container.get("env", []) if v["name"].startswith("ORACLE_")}
    assert len(used) >= 10
    assert used <= known, f"not settings of any command: {sorted(used - known)}"


PIPELINE = "kafka://redpanda:9092/oracle.spans"


def _container(manifest: Manifest) -> Manifest:
    containers_: list[Manifest] = manifest["spec"]["template"]["spec"]["containers"]
    (container,) = containers_
    return container


def test_scale_out_splits_the_monitor_in_three_roles() -> None:
    rendered = kustomize(K8S / "overlays" / "scale-out")
    deployments = by_kind(rendered, "Deployment")
    assert "oracle-monitor/oracle-monitor" not in deployments  # no all-in-one `serve`
    receiver = deployments["oracle-monitor/oracle-monitor-receiver"]
    aggregator = deployments["oracle-monitor/oracle-monitor-aggregator"]
    api = deployments["oracle-monitor/oracle-monitor-api"]
    assert _container(receiver)["args"] == ["receiver", "--pipeline", PIPELINE]
    assert _container(aggregator)["args"] == [
        "aggregator", "--pipeline", PIPELINE, "--store", "$(ORACLE_STORE)",
        "--health-port", "8001",
    ]  # fmt: skip
    assert _container(api)["args"] == ["api", "--store", "$(ORACLE_STORE)"]
    for role in (aggregator, api):  # $(ORACLE_STORE) expands from the Secret
        env = {v["name"]: v for v in _container(role)["env"]}
        assert env["ORACLE_STORE"]["valueFrom"]["secretKeyRef"] == {
            "name": "oracle-monitor-store", "key": "url"
        }  # fmt: skip
    # Only the aggregators (whose leader runs the collectors) get the collector's account.
    assert aggregator["spec"]["template"]["spec"]["serviceAccountName"] == "oracle-monitor"
    for role in (receiver, api):
        assert role["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert receiver["spec"]["replicas"] > 1 and aggregator["spec"]["replicas"] > 1

    # Probes: the receivers' /health on OTLP/HTTP, the aggregators' on their health port, the
    # API's /api/v1/health.
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert _container(receiver)[probe]["httpGet"] == {"path": "/health", "port": "otlp-http"}
        assert _container(api)[probe]["httpGet"] == {"path": "/api/v1/health", "port": "http"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert _container(aggregator)[probe]["httpGet"] == {"path": "/health", "port": "health"}
    assert _container(aggregator)["ports"] == [{"name": "health", "containerPort": 8001}]

    # The agents' OTLP endpoint is unchanged: the Service oracle-monitor now fronts receivers.
    services = by_kind(rendered, "Service")
    otlp = services["oracle-monitor/oracle-monitor"]["spec"]
    assert otlp["selector"] == {"app.kubernetes.io/name": "oracle-monitor-receiver"}
    assert {p["port"] for p in otlp["ports"]} == {4317, 4318}
    api_service = services["oracle-monitor/oracle-monitor-api"]["spec"]
    assert api_service["selector"] == api["spec"]["selector"]["matchLabels"]
    assert [p["port"] for p in api_service["ports"]] == [8000]
    hpa = by_kind(rendered, "HorizontalPodAutoscaler")["oracle-monitor/oracle-monitor-receiver"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "oracle-monitor-receiver"


def test_scale_out_has_its_own_span_pipeline_broker() -> None:
    rendered = kustomize(K8S / "overlays" / "scale-out")
    # `redpanda` in the pipeline URL is the Service of the monitor's own namespace.
    service = by_kind(rendered, "Service")["oracle-monitor/redpanda"]
    broker = by_kind(rendered, "StatefulSet")["oracle-monitor/redpanda"]
    assert service["spec"]["selector"] == broker["spec"]["selector"]["matchLabels"]
    assert 9092 in {port["port"] for port in service["spec"]["ports"]}
    assert broker["spec"]["replicas"] == 3
    seeds = next(arg for arg in _container(broker)["args"] if arg.startswith("--seeds="))
    assert seeds.count(".redpanda.oracle-monitor.svc.cluster.local:33145") == 3
    assert "oracle-monitor/redpanda" in by_kind(rendered, "PodDisruptionBudget")
    job = by_kind(rendered, "Job")["oracle-monitor/oracle-pipeline-topics"]
    configs = by_kind(rendered, "ConfigMap")
    (config,) = [m for k, m in configs.items() if k.startswith("oracle-monitor/pipeline-redpanda")]
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config["metadata"]["name"]}} in volumes
    assert "rpk topic create oracle.spans" in config["data"]["topics.sh"]
    assert "auto_create_topics_enabled: false" in config["data"]["bootstrap.yaml"]
    # The agents' own broker is still there, and still the one whose lag is watched.
    assert "agents/redpanda" in by_kind(rendered, "StatefulSet")
    (monitor_config,) = [m for k, m in configs.items() if k.startswith("oracle-monitor/oracle-m")]
    assert monitor_config["data"]["ORACLE_KAFKA_BOOTSTRAP"].startswith("redpanda.agents.svc")
