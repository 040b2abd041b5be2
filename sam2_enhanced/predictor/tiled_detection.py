"""The predictor's side of detection tiles: run the detection branch on a frame's tiles (batched)
and merge their detections with the whole frame's into one set without duplicates.

Geometry and the merge are in :mod:`sam2_enhanced.modeling.detection_tiles`; this module applies
them with a :class:`~sam2_enhanced.config.DetectionTilesConfig`. Tiles only add detections: the
whole-frame pass still makes the frame's scene tokens (the detector's memory) and its object
memories, so the memory loop is the same with tiles on or off. Each tile's detector reads the
same scene memory as the whole frame's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sam2_enhanced.box_ops import denormalize_cxcywh, normalize_xyxy
from sam2_enhanced.config import DetectionTilesConfig
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.modeling.detection_tiles import merge_detections, tile_boxes_to_frame, tile_grid
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase
from sam2_enhanced.modeling.search_window import crop_windows
from sam2_enhanced.predictor.video_state import VideoState


class TiledDetector:
    """Adds tile detections to a frame's detections (a no-op when ``use_tiles`` is off).

    Args:
        cfg: the model's tile settings.
        model: the model whose encoder and detection branch run on the tiles.
    """

    def __init__(self, cfg: DetectionTilesConfig, model: SAM2EnhancedBase) -> None:
        self.cfg = cfg
        self.model = model

    @property
    def enabled(self) -> bool:
        return self.cfg.use_tiles

    def applies_to(self, frame_hw: tuple[int, int]) -> bool:
        """Tiles are on and a side of the (H, W) frame is longer than a tile: there the
        whole-frame pass shrinks the frame, a tile does not. A frame that fits in one tile is
        seen at least at its size by the whole-frame pass already."""
        return self.enabled and max(frame_hw) > self.cfg.tile_side

    def tiles(self, frame_hw: tuple[int, int]) -> Tensor:
        """(T, 4) xyxy tiles of a frame of size (H, W)."""
        return tile_grid(
            frame_hw,
            tile_side=self.cfg.tile_side,
            overlap=self.cfg.overlap,
            max_tiles=self.cfg.max_tiles,
        )

    def detect_tiles(
        self,
        frame: Tensor,
        tiles_xyxy: Tensor,
        scene_tokens: Tensor | None,
        neighbour: Tensor | None = None,
    ):
        """(3, H, W) uint8 frame, (T, 4) tiles -> logits (T, N, C), boxes cxcywh over each tile
        (T, N, 4) and query states (T, N, d), in batches of ``batch_size`` tiles.

        ``neighbour``: (3, H, W) uint8 neighbouring frame whose same tiles feed a motion branch
        (None: no motion map)."""
        device = next(self.model.parameters()).device
        size = self.model.image_size
        logits, boxes, states = [], [], []
        for start in range(0, tiles_xyxy.shape[0], self.cfg.batch_size):
            chunk = tiles_xyxy[start : start + self.cfg.batch_size]
            images = crop_windows(frame, chunk, size) / 255.0  # (b, 3, S, S)
            neighbours = None
            if neighbour is not None:
                neighbours = (crop_windows(neighbour, chunk, size) / 255.0).to(device)
            encoded = self.model.encode_image(images.to(device), neighbours)
            out = self.model.detect(encoded, scene_tokens)
            logits.append(out.refined_logits)
            boxes.append(out.refined_boxes_cxcywh)
            states.append(out.query_states)
        return torch.cat(logits), torch.cat(boxes), torch.cat(states)

    def add_to(
        self,
        detections: DetectionOutput,
        state: VideoState,
        frame_idx: int,
        scene_tokens: Tensor | None,
    ) -> DetectionOutput:
        """The frame's detections (B = 1) plus its tiles', merged; unchanged when tiles are off
        or the frame fits in one tile (:meth:`applies_to`).

        The result holds only the refined last-layer rows (what the predictor's outputs use):
        ``class_logits`` / ``boxes_cxcywh`` are those rows with L = 1, boxes are normalized to the
        whole frame as before.
        """
        frame_hw = (state.video_height, state.video_width)
        if not self.applies_to(frame_hw):
            return detections
        tiles = self.tiles(frame_hw)
        neighbour_idx = state.neighbour_frame(frame_idx) if self.model.uses_motion else None
        neighbour = None if neighbour_idx is None else state.loader.raw(neighbour_idx)
        tile_logits, tile_boxes, tile_states = self.detect_tiles(
            state.loader.raw(frame_idx), tiles, scene_tokens, neighbour
        )
        height, width = frame_hw
        size = torch.tensor([width, height, width, height], dtype=torch.float32)
        frame_boxes = denormalize_cxcywh(
            detections.refined_boxes_cxcywh[0].float().cpu(), width, height
        )
        frame_boxes = frame_boxes.clamp(min=0).minimum(size)  # (N, 4) video pixels
        tile_px = tile_boxes_to_frame(tile_boxes.float().cpu(), tiles, frame_hw)  # (T, N, 4)
        boxes = torch.cat([frame_boxes, tile_px.flatten(0, 1)])  # (M, 4)
        logits = torch.cat([detections.refined_logits[0], tile_logits.flatten(0, 1)])  # (M, C)
        states = torch.cat([detections.query_states[0], tile_states.flatten(0, 1)])  # (M, d)
        probs = logits.float().sigmoid().cpu()
        scores, labels = probs.max(dim=-1)
        wh = boxes[:, 2:] - boxes[:, :2]  # (M, 2)
        inside = (wh > 0).all(dim=1).numpy()  # boxes wholly in a tile's padding are dropped
        keep = inside.copy()
        keep[inside] = merge_detections(
            boxes[inside].numpy(),
            scores[inside].numpy(),
            labels[inside].numpy(),
            metric=self.cfg.merge_metric,
            threshold=self.cfg.merge_threshold,
        )
        index = torch.from_numpy(keep.nonzero()[0])
        kept_boxes = normalize_xyxy(boxes[index], width, height).to(logits)[None]  # (1, K, 4)
        kept_logits = logits[index.to(logits.device)][None]  # (1, K, C)
        return DetectionOutput(
            class_logits=kept_logits[None],
            boxes_cxcywh=kept_boxes[None],
            refined_logits=kept_logits,
            refined_boxes_cxcywh=kept_boxes,
            query_states=states[index.to(states.device)][None],
        )
