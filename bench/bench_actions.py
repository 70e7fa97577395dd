"""Orchestrion's benchmark (the ``orchestrion_bench`` package beside this file): see bench/README.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orchestrion_bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
