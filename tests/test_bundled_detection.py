"""The bundled model's detector on small objects (issue 11's target, not met yet)."""

import numpy as np
import pytest

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.evaluation.sot import paired_box_iou
from sam2_enhanced.weights.checkpoint import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "model.safetensors").is_file(), reason="no bundled model"
)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="the bundled detector (AP50 0.14 for objects >= 8 px on 40 val videos of 128 px) "
    "sees the whole 1280x720 frame squeezed to 224 px, where the object is 1.4 px, and tiles "
    "are off by default (issue 11)",
)
def test_an_8px_object_on_a_1280x720_frame_is_detected_with_the_default_settings():
    """One still 8 px object on a 1280x720 frame, tracked with no prompt: by the second frame
    (a track is reported after two matches) a detection covers it at IoU >= 0.5."""
    cfg = SyntheticVideoConfig(
        height=720, width=1280, num_frames=2, min_objects=1, max_objects=1, min_object_size=8,
        max_object_size=8, prob_distractor=0.0, prob_occlusion=0.0, prob_exit=0.0,
        prob_camera_motion=0.0,
    )  # fmt: skip
    video = generate_video(0, cfg)
    predictor = SAM2EnhancedVideoPredictor.from_pretrained(device="cpu")
    state = predictor.init_state(video.frames)
    *_, (_, _, _, detections) = predictor.propagate_in_video(state)
    target = np.repeat(video.boxes_xyxy[1, :1].astype(np.float64), len(detections), axis=0)
    ious = paired_box_iou(detections.xyxy.astype(np.float64), target)
    assert len(detections) and ious.max() >= 0.5
