"""Speed and memory against upstream SAM 2: ``python scripts/benchmark.py --frames 100,1000 ...``.

Same as ``sam2e bench``; see ``sam2_enhanced/benchmark/`` and ``docs/benchmark.md``.
"""

from __future__ import annotations

import sys

from sam2_enhanced.benchmark.run import main

if __name__ == "__main__":
    sys.exit(main())
