"""Time the online target model alone: milliseconds per object per frame (estimate, choose,
observe) on generated frames, one thread.

    python scripts/target_model_cost.py --height 512 --width 640 --objects 1 --frames 60
"""

from __future__ import annotations

import argparse
import time

import torch

from sam2_enhanced.config import TargetModelConfig
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.predictor.target_tracking import OnlineTargets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--objects", type=int, default=1)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = SyntheticVideoConfig(
        height=args.height,
        width=args.width,
        num_frames=args.frames,
        min_objects=args.objects,
        max_objects=args.objects,
        min_object_size=6,
        max_object_size=24,
        prob_exit=0.0,
    )
    video = generate_video(50_000_001, cfg)
    frames = [torch.from_numpy(f).permute(2, 0, 1).contiguous() for f in video.frames]
    model = OnlineTargets(TargetModelConfig(mode="target"))
    targets = [
        model.start(frames[0], torch.from_numpy(video.boxes_xyxy[0, i]).float())
        for i in range(args.objects)
    ]
    start = time.perf_counter()
    for frame in frames[1:]:
        estimate = model.estimate(frame, targets)
        boxes, _ = model.choose(estimate, [None] * len(targets), targets)
        model.observe(frame, targets, boxes, estimate.reliable)
    elapsed = time.perf_counter() - start
    per_frame = elapsed / (len(frames) - 1) * 1000
    print(
        f"{args.width}x{args.height}, {args.objects} object(s): {per_frame:.2f} ms a frame, "
        f"{per_frame / args.objects:.2f} ms per object per frame (1 thread)"
    )


if __name__ == "__main__":
    main()
