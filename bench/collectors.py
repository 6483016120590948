"""The collectors' benchmarks, one after the other: ``bench/k8s_watch.py`` (a watch stream of
5,000 pods with bursts of 1,000 events/s) and ``bench/kafka_lag.py`` (lag of 200 groups x 50
partitions on the real broker). Usage: ``python bench/collectors.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    for script in ("k8s_watch.py", "kafka_lag.py"):
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)


if __name__ == "__main__":
    main()
