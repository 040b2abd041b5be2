"""The frames of one training clip as the sequence loss reads them, one at a time.

:class:`EncodedFrames` serves frames encoded in one batch beforehand (whole frames, or windows
cut by the dataset). :class:`ContextFrames` serves search-window clips whose frames were cut
larger than their windows (``ClipBatch.context_xyxy``): it cuts each frame's window when the step
asks for it, either the dataset's window (the target's box on the frame before, jittered) or one
the step placed from the model's own previous prediction (drift training), and encodes it then.
Either way the step gets the window's encoding and the ground truth inside that window.

Shapes: S the model input side, Sc the side of a clip's frames (context), O objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sam2_enhanced.data.clip_dataset import ClipBatch
from sam2_enhanced.modeling.dinov2_encoder import EncoderOutput
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase
from sam2_enhanced.modeling.search_window import to_frame_coords, to_window_coords
from sam2_enhanced.training.window_clips import crop_clip


@dataclass
class FrameTruth:
    """Ground truth of every object on one model input (a frame or a window)."""

    masks: Tensor  # (O, S, S) float {0, 1}
    boxes_xyxy: Tensor  # (O, 4) input pixels, 0 where the object is not on the input
    visibility: Tensor  # (O,) visible fraction, 0 where the object is not on the input


@dataclass
class ClipFrame:
    """One frame of a clip, ready for ``track_step``."""

    encoded: EncoderOutput  # B = 1
    truth: FrameTruth
    window_xyxy: Tensor | None  # (4,) video pixels of the window (None: whole-frame clips)


class EncodedFrames:
    """Frames of clip ``b`` encoded beforehand (``encoded``: its T frames, B = 1 each)."""

    def __init__(self, encoded: list[EncoderOutput], batch: ClipBatch, b: int) -> None:
        self.encoded = encoded
        self.batch = batch
        self.b = b

    def __len__(self) -> int:
        return len(self.encoded)

    def __call__(self, t: int, window_xyxy: Tensor | None = None) -> ClipFrame:
        """Frame ``t``; its window is the dataset's (a window of one's own needs context)."""
        if window_xyxy is not None:
            raise ValueError("frames encoded beforehand cannot be cut to another window")
        batch, b = self.batch, self.b
        truth = FrameTruth(batch.masks[b, t], batch.boxes_xyxy[b, t], batch.visibility[b, t])
        window = None if batch.windows_xyxy is None else batch.windows_xyxy[b, t]
        return ClipFrame(self.encoded[t], truth, window)


class ContextFrames:
    """Frames of clip ``b`` of a batch with ``context_xyxy``, cut and encoded on request."""

    def __init__(self, model: SAM2EnhancedBase, batch: ClipBatch, b: int) -> None:
        if batch.context_xyxy is None or batch.windows_xyxy is None:
            raise ValueError("ContextFrames needs a batch with windows_xyxy and context_xyxy")
        self.model = model
        self.batch = batch
        self.b = b

    def __len__(self) -> int:
        return self.batch.frames.shape[1]

    def __call__(self, t: int, window_xyxy: Tensor | None = None) -> ClipFrame:
        """Frame ``t`` cut to ``window_xyxy`` (4,) video pixels (None: the dataset's window).

        The window should lie inside the frame's context (pixels outside it are cut as 0).
        """
        batch, b = self.batch, self.b
        context = batch.context_xyxy[b, t][None]  # (1, 4)
        context_side = batch.frames.shape[-1]
        if window_xyxy is None:
            window_xyxy = batch.windows_xyxy[b, t]
        corners = window_xyxy.to(context).view(1, 2, 2)
        inside = to_window_coords(corners, context, context_side).view(1, 4).round()  # (1, 4)
        size = self.model.image_size
        image, masks, boxes, in_window = crop_clip(
            batch.frames[b, t][None], batch.masks[b, t][None], inside, size
        )  # (1, 3, S, S), (1, O, S, S), (1, O, 4), (1, O): the dataset's own cut
        truth = FrameTruth(masks[0], boxes[0], batch.visibility[b, t] * in_window[0])
        window = to_frame_coords(inside.view(1, 2, 2), context, context_side).view(4)
        return ClipFrame(self.model.encode_image(image.clamp(0, 1)), truth, window)
