"""sam2-enhanced: SAM 2's video predictor with a detection loop and a bounded memory.

Tensor dimension letters used in shape comments throughout the package:
B batch (objects are batched as B inside the model), T frames, O objects, N queries,
L decoder layers, K detection tokens, M memory tokens, S stored memories, C channels,
H/W height and width, g side of the patch-token grid (image_size // patch_size).
"""

from importlib import import_module

__version__ = "0.1.0"

# Public names -> defining module; imported on first use so `import sam2_enhanced` stays light.
_EXPORTS = {
    "ModelConfig": "sam2_enhanced.config",
    "load_config": "sam2_enhanced.config",
    "build_model": "sam2_enhanced.build",
    "build_predictor": "sam2_enhanced.predictor_build",
    "SAM2EnhancedVideoPredictor": "sam2_enhanced.enhanced_video_predictor",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sam2_enhanced' has no attribute {name!r}")
