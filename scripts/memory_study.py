"""The memory study: the same code as ``sam2e study memory``.

``python scripts/memory_study.py --synthetic 4 --frames 300 --sizes 128,640 --out DIR`` (see
``sam2e study memory --help`` for the policies and options).
"""

import sys

from sam2_enhanced.cli.sam2e import main

if __name__ == "__main__":
    sys.exit(main(["study", "memory", *sys.argv[1:]]))
