"""``python -m oracle_monitor`` runs the command line."""

from oracle_monitor.cli import main

main()
