"""Run the benchmarks: ``python benchmarks/run.py [NAME-FILTER]``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    pattern = argv[0] if argv else ""
    scripts = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    for name in scripts:
        if pattern in name:
            importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
