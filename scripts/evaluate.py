"""Evaluate on SOT / MOT / VOS sequences: the same code as ``sam2e eval``.

``python scripts/evaluate.py sot --data PATH --methods ours,csrt,kcf --out DIR`` (see
``sam2e eval --help`` for the data layouts and options).
"""

import sys

from sam2_enhanced.cli.sam2e import main

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))
