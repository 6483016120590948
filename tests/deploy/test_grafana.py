"""The Grafana provisioning and dashboard, and the Prometheus that feeds it.

No Grafana can run here, so these check what Grafana would read: valid JSON and YAML, every
data source a panel, query, variable or trace link names is provisioned with that type, every
metric a query uses is one ``/metrics`` exports (scraped from the real app), and the compose
stack mounts the files where the provisioning looks for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from oracle_monitor.store import Store
from tests.deploy.manifests import DEPLOY
from tests.integration.test_metrics import K8S, KAFKA, FixedCollector, receiver_state, scrape
from tests.integration.test_metrics import store as metrics_store

__all__ = ["metrics_store"]  # the fixture, imported to be used here

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "oracle-monitor.json"
METRIC = re.compile(r"\boracle_[a-z0-9_]+")


@pytest.fixture(scope="module")
def sources() -> dict[str, dict[str, Any]]:
    path = GRAFANA / "provisioning" / "datasources" / "oracle-monitor.yaml"
    listed = yaml.safe_load(path.read_text())["datasources"]
    found = {source["uid"]: source for source in listed}
    assert len(found) == len(listed)  # uids are unique
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def test_data_sources(sources: dict[str, dict[str, Any]]) -> None:
    assert sources["oracle-monitor"]["type"] == "jaeger"
    assert sources["oracle-monitor"]["url"] == "http://oracle-monitor:8000/jaeger"
    assert sources["oracle-prometheus"]["type"] == "prometheus"
    assert sources["oracle-prometheus"]["url"] == "http://prometheus:9090"


def test_every_panel_and_query_names_a_provisioned_source_of_its_type(
    dashboard: dict[str, Any], sources: dict[str, dict[str, Any]]
) -> None:
    assert dashboard["uid"] and dashboard["title"] == "Oracle Monitor"
    seen_types = set()
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        refs = [panel["datasource"], *(target["datasource"] for target in panel["targets"])]
        for ref in refs:
            assert ref["uid"] in sources, (panel["title"], ref)
            assert sources[ref["uid"]]["type"] == ref["type"], panel["title"]
            seen_types.add(ref["type"])
        assert len({ref["uid"] for ref in refs}) == 1, panel["title"]
        assert panel["targets"] and all(target["refId"] for target in panel["targets"])
    assert seen_types == {"prometheus", "jaeger"}
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == "oracle-prometheus"


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not cells & area, panel["title"]
        cells |= area
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_queries_use_only_exported_metrics(dashboard: dict[str, Any], metrics_store: Store) -> None:
    families = scrape(
        metrics_store, receiver_state(), FixedCollector("kafka", KAFKA), FixedCollector("k8s", K8S)
    )
    exported = {sample.name for family in families.values() for sample in family.samples}
    used = set()
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            used |= set(METRIC.findall(target.get("expr", "")))
    for variable in dashboard["templating"]["list"]:
        used |= set(METRIC.findall(variable["query"]["query"]))
    assert used, "the dashboard queries no metric"
    assert used <= exported, sorted(used - exported)
    for needed in ("agent", "cost", "kafka_consumer_lag", "k8s_pod", "oom_kills"):
        assert any(needed in name for name in used), needed


def test_trace_links_search_the_jaeger_source(dashboard: dict[str, Any]) -> None:
    links = [
        link
        for panel in panels(dashboard["panels"])
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    ]
    assert len(links) >= 5
    for link in links:
        url = urlsplit(link["url"])
        assert url.path == "/explore"
        (pane,) = json.loads(parse_qs(url.query)["panes"][0]).values()
        assert pane["datasource"] == "oracle-monitor"
        (query,) = pane["queries"]
        assert query["datasource"] == {"type": "jaeger", "uid": "oracle-monitor"}
        assert query["queryType"] == "search" and "${__field.labels." in query["tags"]
    traces = [
        p for p in panels(dashboard["panels"]) if p.get("datasource", {}).get("type") == "jaeger"
    ]
    assert traces and traces[0]["targets"][0]["tags"] == "error=true"


def test_compose_wires_prometheus_and_the_dashboards() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose["grafana"]["volumes"]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "oracle-monitor.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    prometheus = compose["prometheus"]
    mount = "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
    assert mount in prometheus["volumes"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["oracle-monitor:8000"]
    token_file = job["authorization"]["credentials_file"]
    assert token_file in prometheus["command"][0]  # the file compose writes the token to
    assert Path(token_file).parent == Path("/prometheus")
