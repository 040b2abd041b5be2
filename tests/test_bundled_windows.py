"""The bundled model with search windows: frame-size invariance of tracking."""

import cv2
import numpy as np
import pytest
import torch

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.weights.checkpoint import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "model.safetensors").is_file(), reason="no bundled model"
)

SIDES = (128, 320, 640, 1280)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    union = float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2])) - inter
    return inter / union if union > 0 else 0.0


def tracked_boxes(predictor, frames: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(T, 4) boxes of object 1 prompted with ``box`` on frame 0 (NaN where not reported)."""
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, box=box)
    boxes = np.full((len(frames), 4), np.nan)
    for frame_idx, _, _, detections in predictor.propagate_in_video(state):
        rows = np.flatnonzero(detections.tracker_id == 1)
        if rows.size:
            boxes[frame_idx] = detections.xyxy[rows[0]]
    return boxes


def render(frames: np.ndarray, side: int) -> np.ndarray:
    """(T, 128, 128, 3) frames resized to ``side`` px (bilinear)."""
    return np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_LINEAR) for f in frames])


def test_windows_of_the_same_clip_at_four_frame_sizes_show_the_same_content():
    """What the model sees does not depend on the frame size: a window around the same object
    (4x its size) cut from the clip at 128, 320, 640 and 1280 px gives the same 224 px image up
    to resampling (mean absolute difference below 6 grey levels of 255)."""
    from sam2_enhanced.config import SearchWindowConfig
    from sam2_enhanced.predictor.object_windows import WindowPlanner

    video = generate_video(20_000_322, SyntheticVideoConfig(num_frames=1, min_object_size=12))
    planner = WindowPlanner(SearchWindowConfig(), image_size=224)
    crops = {}
    for side in SIDES:
        scale = side / 128
        frame = torch.from_numpy(render(video.frames, side)[0]).permute(2, 0, 1)
        box = torch.from_numpy(video.boxes_xyxy[0, :1]).float() * scale
        window = planner.around_boxes(box, (side, side))
        crops[side] = planner.window_images(frame, window)[0]  # (3, 224, 224)
    for side in SIDES[1:]:
        assert (crops[side] - crops[128]).abs().mean() * 255 < 6, side


@pytest.fixture(scope="module")
def size_tracks():
    """One 128 px clip's track at each of SIDES, in 128 px units."""
    predictor = SAM2EnhancedVideoPredictor.from_pretrained()
    cfg = SyntheticVideoConfig(
        num_frames=6, min_object_size=12, max_object_size=20, max_objects=1, prob_exit=0.0
    )
    video = generate_video(20_000_322, cfg)  # the object stays > 90 % visible
    box = video.boxes_xyxy[0, 0].astype(np.float64)
    assert (video.visibility[:, 0] > 0.9).all()
    tracks = {}
    for side in SIDES:
        scale = side / 128
        frames = render(video.frames, side)
        tracks[side] = tracked_boxes(predictor, frames, box * scale) / scale
    return tracks


@pytest.mark.parametrize("side", SIDES[1:])
def test_the_same_clip_at_another_frame_size_gives_the_same_boxes_up_to_scale(size_tracks, side):
    """One 128 px clip rendered (resized) at 128, 320, 640 and 1280 px. Windows are a multiple
    of the object's size (objects of 12-20 px keep every window above the 48 px minimum), so the
    model sees the same window content at every size, up to resampling: bilinear upsampling
    here, area-averaged downsampling into the 224 px model input there. The tolerance, IoU >=
    0.8 with the 128 px track on every frame, allows each box edge to move by about one cell of
    the 64-cell mask (a window is 4x the object, so a cell is 1/16 of the object's side: IoU
    about 0.88 for one cell on every edge). The boxes are the online target model's (fused
    mode), whose patches are a multiple of the object's size too; with the network's masks
    alone (target_model.mode network) the bundled model lost the target at 320 px (IoU 0.10,
    issue 10). A whole-frame model fails it (the object is 9 to 100 px in its input)."""
    reference = size_tracks[128]
    assert not np.isnan(reference).any()
    ious = [box_iou(reference[t], size_tracks[side][t]) for t in range(1, len(reference))]
    assert min(ious) >= 0.8, (side, ious)
