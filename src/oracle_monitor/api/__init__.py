"""The REST API (FastAPI): traces, health, and later snapshots, costs and the UI."""

from oracle_monitor.api.app import create_app

__all__ = ["create_app"]
