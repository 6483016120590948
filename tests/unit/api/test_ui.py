"""The dashboard's serving: assets, the SPA fallback for deep links, API 404s left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from oracle_monitor.api.app import create_app
from oracle_monitor.api.ui import is_ui_path, mount_ui
from oracle_monitor.auth import BearerAuth
from oracle_monitor.store import open_store


def app_with(static: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/things/{name}")
    def thing(name: str) -> dict[str, str]:
        raise HTTPException(404, f"thing {name} not found")

    mount_ui(app, static)

    @app.get("/jaeger/api/services")  # added after the UI: must not be shadowed
    def services() -> dict[str, list[str]]:
        return {"data": ["a"]}

    return TestClient(app)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    return tmp_path


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/traces",
        "/traces/4bf92f3577b34da6a3ce929d0e0e4736?span=ab",
        "/?at=2026-11-27T07:20:00Z",
        "/tasks/task-42",
    ],
)
def test_deep_links_get_the_app(built: Path, path: str) -> None:
    response = app_with(built).get(path)
    assert response.status_code == 200
    assert response.text.startswith("<!doctype html>")
    assert response.headers["cache-control"] == "no-cache"


def test_assets_are_served_and_cached_forever(built: Path) -> None:
    response = app_with(built).get("/assets/index-abc.js")
    assert response.status_code == 200
    assert response.text == "console.log(1)"
    assert "immutable" in response.headers["cache-control"]
    assert app_with(built).get("/assets/missing.js").status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/v1/things/x", "/api/v1/nothing", "/metrics", "/jaeger/api/x"]
)
def test_api_misses_stay_json_404s(built: Path, path: str) -> None:
    response = app_with(built).get(path)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_routes_added_after_the_ui_still_answer(built: Path) -> None:
    assert app_with(built).get("/jaeger/api/services").json() == {"data": ["a"]}


def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    response = app_with(tmp_path).get("/")
    assert response.status_code == 200
    assert "make ui" in response.text


def test_posts_to_unknown_paths_are_not_the_app(built: Path) -> None:
    assert app_with(built).post("/traces").status_code in (404, 405)


@pytest.mark.parametrize(
    ("path", "ui"),
    [
        ("/", True),
        ("/traces/x", True),
        ("/api/v1/health", False),
        ("/api", False),
        ("/metrics", False),
    ],
)
def test_is_ui_path(path: str, ui: bool) -> None:
    assert is_ui_path(path) is ui


def test_with_a_token_the_app_loads_but_its_data_needs_the_token(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/oracle.db")
    try:
        client = TestClient(create_app(store, dict, auth=BearerAuth("s3cret")))
        assert client.get("/traces/abc").status_code == 200  # the app's files hold no data
        assert client.get("/api/v1/traces").status_code == 401
        assert client.get("/metrics").status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        assert client.get("/api/v1/traces", headers=headers).status_code == 200
    finally:
        store.close()
