"""Average two checkpoints in weight space: (1 - alpha) * BASE + alpha * TUNED -> OUT.

    python scripts/average_weights.py --tuned runs/my_finetune/model --alpha 0.5 --out runs/avg

BASE defaults to the bundled model; both must share one config (sam2_enhanced/weights/averaging.py).
"""

from __future__ import annotations

import argparse

from sam2_enhanced.weights.averaging import average_checkpoints
from sam2_enhanced.weights.checkpoint import save_pretrained


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=None, help="checkpoint folder (default: the bundled one)")
    parser.add_argument("--tuned", required=True, help="checkpoint folder fine-tuned from BASE")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of TUNED, in [0, 1]")
    parser.add_argument("--out", required=True, help="folder to write the averaged checkpoint")
    args = parser.parse_args(argv)
    try:
        model = average_checkpoints(args.base, args.tuned, args.alpha)
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    print(save_pretrained(model, args.out))


if __name__ == "__main__":
    main()
