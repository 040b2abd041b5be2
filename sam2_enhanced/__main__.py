"""``python -m sam2_enhanced`` runs the ``sam2e`` command line."""

import sys

from sam2_enhanced.cli.sam2e import main

sys.exit(main())
