"""Run the side-by-side benchmarks from a source checkout (same as ``losskit bench``).

The runner and its cases live in the package (``src/losskit/_bench``) so that an installed
``losskit bench`` has them too; this script runs that runner from the checkout's ``src``
and writes ``benchmarks/RESULTS.md`` for a full run.

    python benchmarks/run.py [--quick] [--cases a,b] [--reps N] [--out PATH] [--list]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    os.chdir(ROOT)  # the default report is benchmarks/RESULTS.md of this checkout
    from losskit._bench.run import main

    sys.exit(main())
