"""The bundled model on a tiny target in clutter: its box never floods the scene (issue 29)."""

import numpy as np
import pytest

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.weights.checkpoint import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "model.safetensors").is_file(), reason="no bundled model"
)

MAX_SIDE_RATIO = 3.0  # a reported box may be at most this many times the target's side


def cluttered_clip() -> tuple[np.ndarray, np.ndarray]:
    """A 640x360 clip of 12 frames: a 6.5 px target among look-alikes, a panning camera and a
    deforming background. The network's mask alone (target_model.mode network) floods here:
    its box reaches 200 px."""
    cfg = SyntheticVideoConfig(
        height=360,
        width=640,
        num_frames=12,
        min_objects=1,
        max_objects=3,
        min_object_size=5,
        max_object_size=9,
        prob_distractor=1.0,
        prob_camera_motion=1.0,
        prob_exit=0.0,
        prob_background_warp=1.0,
    )
    video = generate_video(40_000_003, cfg)
    return video.frames, video.boxes_xyxy[:, 0].astype(np.float64)


def test_a_tiny_target_in_clutter_never_gets_a_box_many_times_its_size():
    frames, gt = cluttered_clip()
    predictor = SAM2EnhancedVideoPredictor.from_pretrained().with_detection_tiles(False)
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, box=gt[0])
    side = np.sqrt(np.prod(gt[0, 2:] - gt[0, :2]))
    reported = 0
    for _, _, _, detections in predictor.propagate_in_video(state):
        rows = np.flatnonzero(detections.tracker_id == 1)
        if rows.size:
            reported += 1
            w, h = detections.xyxy[rows[0], 2:] - detections.xyxy[rows[0], :2]
            assert max(w, h) <= MAX_SIDE_RATIO * side, (w, h, side)
    assert reported >= 3  # not kept small by reporting nothing (it loses this erratic mover
    # after about 4 frames and then reports it absent, which this test does not judge)
