"""One virtual environment per agent framework, made with uv from pinned requirements, cached.

The frameworks and their instrumentations pin versions that clash with the project's (an older
``openai``) and with each other's, and patch process globals; so each runs in its own venv,
made from ``requirements/<name>.txt`` (every package pinned) and kept under
``$ORACLE_TEST_VENVS`` (default ``~/.cache/oracle-monitor/test-venvs``), keyed by a hash of the
requirements, so it is made once per machine and per change of pins.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "requirements"
WORKFLOWS = HERE / "workflows"


def cache_root() -> Path:
    default = Path.home() / ".cache" / "oracle-monitor" / "test-venvs"
    return Path(os.environ.get("ORACLE_TEST_VENVS", default))


def frameworks() -> list[str]:
    """The frameworks with a requirements file and a workflow."""
    return sorted(
        path.stem for path in REQUIREMENTS.glob("*.txt") if (WORKFLOWS / f"{path.stem}.py").exists()
    )


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        raise RuntimeError("uv is needed to make the frameworks' venvs: pip install uv")
    return found


def venv_python(name: str) -> Path:
    """The Python of framework ``name``'s venv, made (with uv, from its pins) if missing."""
    requirements = REQUIREMENTS / f"{name}.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    venv = cache_root() / f"{name}-{digest}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    uv = _uv()
    quiet = {**os.environ, "UV_NO_PROGRESS": "1"}
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=quiet
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)],
        check=True,
        env=quiet,
    )
    (venv / ".complete").touch()
    return python
