"""The ``oracle-monitor`` command's entry point (``python -m oracle_monitor`` too): the CLI
(`oracle_monitor.cli`) when the server extra is installed, else one line saying how to install
it (an agent's light install has only the instrumentation)."""

from __future__ import annotations

import sys

EXTRA_HINT = "pip install 'oracle-monitor[server]'"


def main() -> int:
    """Run the CLI, or say which extra it needs."""
    try:
        from oracle_monitor.cli import main as cli_main
    except ModuleNotFoundError as missing:
        print(
            f"oracle-monitor: {missing.name} is not installed; the server, proxy and demo come "
            f"with the server extra: {EXTRA_HINT}",
            file=sys.stderr,
        )
        return 2
    cli_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
