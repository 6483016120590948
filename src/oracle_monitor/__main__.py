"""``python -m oracle_monitor`` runs the command line."""

import sys

from oracle_monitor.entry import main

sys.exit(main())
