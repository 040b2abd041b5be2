"""``SAM2EnhancedBase``: the whole per-frame loop for one frame.

frame -> DINOv2 encoder -> (a) detection branch: memory attention over scene detection tokens ->
DETR decoder -> detection head -> small-object refinement (-> duplicate suppression at
inference); (b) object branch: memory attention over each object's memories -> SAM 2 mask
decoder -> masks, pointer, occlusion score; then the enhanced memory encoder turns masks, boxes
and patch embeddings into the memories that the next frame reads (through the memory bank, which
decides what to keep).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from sam2_enhanced.box_ops import box_iou, cxcywh_to_xyxy, masks_to_boxes_xyxy, xyxy_to_cxcywh
from sam2_enhanced.modeling.denoising import DenoisingQueries
from sam2_enhanced.modeling.detection_head import (
    DetectionHead,
    DetectionOutput,
    SmallObjectRefinementHead,
)
from sam2_enhanced.modeling.detr_decoder import DetrDecoder
from sam2_enhanced.modeling.dinov2_encoder import DINOv2Encoder, EncoderOutput
from sam2_enhanced.modeling.duplicate_suppression import DuplicateSuppression
from sam2_enhanced.modeling.enhanced_memory_attention import EnhancedMemoryAttention, MemoryTokens
from sam2_enhanced.modeling.enhanced_memory_encoder import EnhancedMemoryEncoder
from sam2_enhanced.modeling.motion_branch import MotionBranch
from sam2_enhanced.modeling.neighbour_alignment import align_neighbours
from sam2_enhanced.modeling.sam_mask_head import MaskHeadOutput, SamMaskHead
from sam2_enhanced.modeling.search_window import to_frame_coords


class ObjectMemoryView(Protocol):
    """What the model reads of one object's memory (``memory_bank.MemoryReadout`` fits)."""

    features: Tensor  # (S, mem_dim, g, g)
    frame_offsets: Tensor  # (S,)
    is_cond: Tensor  # (S,) bool
    obj_ptrs: Tensor  # (P, d)
    ptr_offsets: Tensor  # (P,)
    det_tokens: Tensor  # (K, mem_dim)


@dataclass
class ObjectPrompts:
    """Prompts of O objects on one frame, in model-input pixels."""

    point_coords: Tensor  # (O, P, 2) x, y; rows without points hold one padding point
    point_labels: Tensor  # (O, P) int32: 1 pos, 0 neg, 2/3 box corners, -1 padding
    mask_inputs: Tensor | None = None  # (O, 1, 4g, 4g) in [0, 1]
    has_mask: Tensor | None = None  # (O,) bool, rows of mask_inputs that are real prompts

    @classmethod
    def none(cls, num_objects: int, device: torch.device) -> ObjectPrompts:
        """No prompt for any object (tracking from memory)."""
        return cls(
            point_coords=torch.zeros(num_objects, 1, 2, device=device),
            point_labels=-torch.ones(num_objects, 1, dtype=torch.int32, device=device),
        )

    @property
    def is_prompted(self) -> Tensor:
        """(O,) bool: object has a click, box or mask on this frame."""
        prompted = (self.point_labels >= 0).any(dim=1)
        if self.has_mask is not None:
            prompted = prompted | self.has_mask
        return prompted


@dataclass
class FrameMemory:
    """New memories made from one frame, before the bank decides what to keep."""

    mask_features: Tensor  # (O, mem_dim, g, g) spatial memory of each object
    obj_ptrs: Tensor  # (O, d) object pointers
    object_tokens: Tensor  # (O, 1, mem_dim) detection memory token of each object's box
    object_visible: Tensor  # (O,) bool, object judged visible (its token is meaningful)
    scene_tokens: Tensor  # (K, mem_dim) tokens of the frame's confident detections


@dataclass
class TrackStepOutput:
    """Everything one frame produces."""

    masks: MaskHeadOutput | None  # per-object masks (None when no object is tracked)
    detections: DetectionOutput  # B = 1
    memory: FrameMemory | None  # None when ``encode_memory=False``


def expand_frame(encoded: EncoderOutput, num_objects: int) -> EncoderOutput:
    """One input per object: a batch of O stays, a single frame (B = 1) is expanded to O."""
    if encoded.features.shape[0] == num_objects:
        return encoded
    return EncoderOutput(
        *(
            f.expand(num_objects, *f.shape[1:])
            for f in (encoded.features, encoded.pos, encoded.fpn_s1, encoded.fpn_s0)
        )
    )


class SAM2EnhancedBase(nn.Module):
    """Composes the components; each is injected (see ``build.build_model``)."""

    def __init__(
        self,
        *,
        encoder: DINOv2Encoder,
        memory_attention: EnhancedMemoryAttention,
        detr_decoder: DetrDecoder,
        detection_head: DetectionHead,
        refinement_head: SmallObjectRefinementHead,
        mask_head: SamMaskHead,
        memory_encoder: EnhancedMemoryEncoder,
        num_det_tokens: int,
        det_token_threshold: float,
        duplicate_suppression: DuplicateSuppression | None = None,
        motion_branch: MotionBranch | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.motion_branch = motion_branch
        self.memory_attention = memory_attention
        self.detr_decoder = detr_decoder
        self.detection_head = detection_head
        self.refinement_head = refinement_head
        self.mask_head = mask_head
        self.memory_encoder = memory_encoder
        self.num_det_tokens = num_det_tokens
        self.det_token_threshold = det_token_threshold
        self.duplicate_suppression = duplicate_suppression

    @property
    def image_size(self) -> int:
        return self.encoder.image_size

    @property
    def mask_size(self) -> int:
        """Side of mask logits and mask prompts (4x the token grid)."""
        return self.mask_head.mask_input_size[0]

    @property
    def uses_motion(self) -> bool:
        """The detector reads a motion map: :meth:`encode_image` wants each frame's neighbour."""
        return self.motion_branch is not None

    def encode_image(self, images: Tensor, neighbours: Tensor | None = None) -> EncoderOutput:
        """(B, 3, S, S) RGB in [0, 1] -> multi-scale features.

        ``neighbours``: (B, 3, S, S) each frame's neighbouring frame (see
        :func:`~sam2_enhanced.modeling.motion_branch.neighbour_index`), for a model with a motion
        branch; ignored without one; None: no motion map. With the branch's ``use_alignment``
        each neighbour is first shifted onto its frame by the global camera shift
        (:func:`~sam2_enhanced.modeling.neighbour_alignment.align_neighbours`).
        """
        encoded = self.encoder(images)
        if self.motion_branch is not None and neighbours is not None:
            if neighbours.shape != images.shape:
                raise ValueError(
                    f"neighbours must have the frames' shape {tuple(images.shape)}, "
                    f"got {tuple(neighbours.shape)}"
                )
            if self.motion_branch.use_alignment:
                neighbours = align_neighbours(images, neighbours)  # (B, 3, S, S)
            difference = (images - neighbours) / self.encoder.pixel_std  # (B, 3, S, S)
            encoded.motion = self.motion_branch(
                difference, tuple(encoded.fpn_s0.shape[-2:])
            )  # (B, d, 4g, 4g)
        return encoded

    def memory_pos(self, num_memories: int, like: Tensor) -> Tensor:
        """Sine position encoding of ``num_memories`` spatial memories: (S, mem_dim, g, g)."""
        pos = self.memory_encoder.mask_memory.position_encoding(like[:1])  # (1, mem_dim, g, g)
        return pos.expand(num_memories, -1, -1, -1)

    def memory_tokens(self, memory: ObjectMemoryView | None) -> MemoryTokens | None:
        """Flatten one object's memory readout (None: no memory yet)."""
        if memory is None:
            return None
        return self.memory_attention.build_memory(
            features=memory.features,
            feature_pos=self.memory_pos(memory.features.shape[0], memory.features),
            frame_offsets=memory.frame_offsets,
            is_cond=memory.is_cond,
            obj_ptrs=memory.obj_ptrs,
            ptr_offsets=memory.ptr_offsets,
            det_tokens=memory.det_tokens,
        )

    def scene_memory_tokens(self, scene_tokens: Tensor | None) -> MemoryTokens | None:
        """Detection tokens of past frames as a memory without spatial part."""
        if scene_tokens is None or scene_tokens.shape[0] == 0:
            return None
        mem_dim = scene_tokens.shape[1]
        empty = scene_tokens.new_zeros(0, mem_dim, 1, 1)
        return self.memory_attention.build_memory(
            features=empty,
            feature_pos=empty,
            frame_offsets=torch.zeros(0, dtype=torch.long, device=scene_tokens.device),
            is_cond=torch.zeros(0, dtype=torch.bool, device=scene_tokens.device),
            obj_ptrs=scene_tokens.new_zeros(0, self.memory_attention.d_model),
            ptr_offsets=scene_tokens.new_zeros(0),
            det_tokens=scene_tokens,
        )

    def detect(
        self,
        frame: EncoderOutput,
        scene_tokens: Tensor | None,
        denoising: DenoisingQueries | None = None,
    ) -> DetectionOutput:
        """Object-agnostic detections of one frame (B = 1) conditioned on scene memory.

        ``denoising``: training-only noised ground truth decoded alongside the queries (their
        outputs in ``denoising_logits`` / ``denoising_boxes_cxcywh``); None at inference.
        """
        features = self.memory_attention(
            frame.features, frame.pos, self.scene_memory_tokens(scene_tokens)
        )
        decoded = self.detr_decoder(features, frame.pos, denoising, frame.detection_s0)
        class_logits, boxes = self.detection_head(decoded.states, decoded.reference_boxes)
        denoising_logits = denoising_boxes = None
        if decoded.denoising_states is not None:
            denoising_logits, denoising_boxes = self.detection_head(
                decoded.denoising_states, decoded.denoising_reference
            )  # (L, B, D, C), (L, B, D, 4)
        refined_logits, refined_boxes = self.refinement_head(
            decoded.states[-1], class_logits[-1], boxes[-1], frame.detection_s0
        )
        if self.duplicate_suppression is not None and not self.training:
            refined_logits = self.duplicate_suppression(refined_logits, refined_boxes)
        return DetectionOutput(
            class_logits=class_logits,
            boxes_cxcywh=boxes,
            refined_logits=refined_logits,
            refined_boxes_cxcywh=refined_boxes,
            query_states=decoded.states[-1],
            proposal_logits=decoded.proposal_logits,
            proposal_boxes_cxcywh=decoded.proposal_boxes,
            denoising_logits=denoising_logits,
            denoising_boxes_cxcywh=denoising_boxes,
        )

    def segment(
        self,
        objects: EncoderOutput,
        prompts: ObjectPrompts,
        memories: list[ObjectMemoryView | None],
        multimask_output: bool,
        previous_logits: Tensor | None = None,
    ) -> MaskHeadOutput:
        """Masks of O objects, each in its own input (B = O) or one shared frame (B = 1), each
        conditioned on its own memory.

        ``previous_logits`` (O, 1, m, m): each object's mask logits on the previous frame of the
        tracking direction, over this frame's input (for the previous-centre prompt), or None.
        """
        num_objects = len(memories)
        objects = expand_frame(objects, num_objects)
        conditioned = torch.cat(
            [
                self.memory_attention(
                    objects.features[i : i + 1], objects.pos[i : i + 1], self.memory_tokens(memory)
                )
                for i, memory in enumerate(memories)
            ]
        )  # (O, d, g, g)
        has_mask = prompts.has_mask
        if has_mask is None:
            has_mask = torch.zeros(num_objects, dtype=torch.bool, device=conditioned.device)
        return self.mask_head(
            features=conditioned,
            fpn_s1=objects.fpn_s1,
            fpn_s0=objects.fpn_s0,
            point_coords=prompts.point_coords,
            point_labels=prompts.point_labels,
            mask_inputs=prompts.mask_inputs,
            has_mask=has_mask,
            multimask_output=multimask_output,
            previous_logits=previous_logits,
        )

    def object_boxes(self, mask_logits: Tensor) -> Tensor:
        """(O, 1, m, m) mask logits -> (O, 4) normalized cxcywh of the mask's tight box.

        Empty masks give a zero-size box at the image centre.
        """
        boxes_xyxy = masks_to_boxes_xyxy(mask_logits[:, 0] > 0) / mask_logits.shape[-1]
        empty = torch.isnan(boxes_xyxy).any(dim=1, keepdim=True)
        boxes_xyxy = torch.where(empty, boxes_xyxy.new_tensor([0.5, 0.5, 0.5, 0.5]), boxes_xyxy)
        return xyxy_to_cxcywh(boxes_xyxy)

    def encode_memory(
        self,
        frame: EncoderOutput,
        masks: MaskHeadOutput | None,
        detections: DetectionOutput,
        is_prompted: Tensor,
        objects: EncoderOutput | None = None,
        object_windows: Tensor | None = None,
    ) -> FrameMemory:
        """Memories of one frame: per-object mask memory and box token, scene tokens.

        Args:
            frame: the frame's encoder output (B = 1).
            masks: per-object mask outputs (None when no object is tracked).
            detections: the frame's detections.
            is_prompted: (O,) bool, prompted objects get a binarized mask memory (as SAM 2).
            objects: each object's window encoding (B = O), or None (the frame is every
                object's input).
            object_windows: (O, 4) xyxy of each object's input as fractions of the frame, to
                compare its mask box with the frame's detections; None: the whole frame.
        """
        det_boxes = detections.refined_boxes_cxcywh[0].detach()  # (N, 4)
        det_probs = detections.refined_logits[0].detach().sigmoid()  # (N, C)
        scores = det_probs.amax(dim=-1)
        keep = scores.topk(min(self.num_det_tokens, scores.shape[0])).indices
        keep = keep[scores[keep] >= self.det_token_threshold]
        scene_tokens = self.memory_encoder.det_tokens(
            frame.features, det_boxes[keep][None], det_probs[keep][None]
        )[0]  # (K, mem_dim)
        mem_dim = scene_tokens.shape[-1]
        if masks is None:
            empty = frame.features.new_zeros(0, mem_dim, *frame.features.shape[-2:])
            return FrameMemory(
                mask_features=empty,
                obj_ptrs=frame.features.new_zeros(0, frame.features.shape[1]),
                object_tokens=frame.features.new_zeros(0, 1, mem_dim),
                object_visible=torch.zeros(0, dtype=torch.bool, device=frame.features.device),
                scene_tokens=scene_tokens,
            )
        num_objects = masks.mask_logits.shape[0]
        features = expand_frame(objects if objects is not None else frame, num_objects).features
        mask_memory = self.memory_encoder.encode_masks(
            features, masks.mask_logits, masks.object_score_logits, is_prompted
        )
        obj_boxes = self.object_boxes(masks.mask_logits.detach())  # (O, 4) over each input
        frame_boxes_xyxy = cxcywh_to_xyxy(obj_boxes)
        if object_windows is not None:  # fractions of each window -> fractions of the frame
            corners = frame_boxes_xyxy.view(-1, 2, 2)  # (O, 2, 2)
            frame_boxes_xyxy = to_frame_coords(corners, object_windows, 1).view(-1, 4)
        iou, _ = box_iou(frame_boxes_xyxy, cxcywh_to_xyxy(det_boxes))  # (O, N)
        best = iou.argmax(dim=1) if iou.shape[1] else None
        obj_probs = (
            det_probs[best] * (iou.amax(dim=1, keepdim=True) > 0.3)
            if best is not None
            else det_probs.new_zeros(num_objects, det_probs.shape[1])
        )  # (O, C): class of the best-overlapping detection, zeros when none overlaps
        object_tokens = self.memory_encoder.det_tokens(
            features, obj_boxes[:, None], obj_probs[:, None]
        )  # (O, 1, mem_dim)
        return FrameMemory(
            mask_features=mask_memory.features,
            obj_ptrs=masks.obj_ptr,
            object_tokens=object_tokens,
            object_visible=masks.object_score_logits[:, 0] > 0,
            scene_tokens=scene_tokens,
        )

    def track_step(
        self,
        frame: EncoderOutput,
        prompts: ObjectPrompts | None,
        memories: list[ObjectMemoryView | None],
        scene_tokens: Tensor | None,
        multimask_output: bool = False,
        encode_memory: bool = True,
        previous_logits: Tensor | None = None,
        objects: EncoderOutput | None = None,
        object_windows: Tensor | None = None,
        denoising: DenoisingQueries | None = None,
    ) -> TrackStepOutput:
        """Run one frame.

        Args:
            frame: encoder output of the frame (B = 1), from :meth:`encode_image`.
            prompts: prompts of the O tracked objects on this frame (None: none prompted).
            memories: one memory readout per tracked object (None where it has no memory yet);
                its length is the number of objects O (0 for detection only).
            scene_tokens: (K, mem_dim) detection tokens of past frames, or None.
            multimask_output: return SAM's 3 candidate masks (single ambiguous click).
            encode_memory: also build this frame's memories.
            previous_logits: (O, 1, m, m) each object's mask logits on the previous frame of the
                tracking direction over this frame's input (-1024 rows: none), or None.
            objects: encoder output of each object's search window (B = O), or None: objects
                are segmented on ``frame`` itself.
            object_windows: (O, 4) xyxy of those windows as fractions of the frame (see
                :meth:`encode_memory`); None with ``objects=None``.
            denoising: training-only denoising queries for the detector (see :meth:`detect`).
        """
        if frame.features.shape[0] != 1:
            raise ValueError(
                f"track_step takes one frame, got a batch of {frame.features.shape[0]}"
            )
        detections = self.detect(frame, scene_tokens, denoising)
        num_objects = len(memories)
        masks = None
        is_prompted = torch.zeros(num_objects, dtype=torch.bool, device=frame.features.device)
        if num_objects:
            if prompts is None:
                prompts = ObjectPrompts.none(num_objects, frame.features.device)
            if prompts.point_coords.shape[0] != num_objects:
                raise ValueError(
                    f"got prompts for {prompts.point_coords.shape[0]} objects but "
                    f"{num_objects} memories; pass one memory (or None) per object"
                )
            if previous_logits is not None and previous_logits.shape[0] != num_objects:
                raise ValueError(
                    f"got previous masks for {previous_logits.shape[0]} objects but "
                    f"{num_objects} memories; pass one row (-1024 where none) per object"
                )
            if objects is not None and objects.features.shape[0] != num_objects:
                raise ValueError(
                    f"got {objects.features.shape[0]} object windows but {num_objects} memories"
                )
            inputs = objects if objects is not None else frame
            masks = self.segment(inputs, prompts, memories, multimask_output, previous_logits)
            is_prompted = prompts.is_prompted
        memory = (
            self.encode_memory(frame, masks, detections, is_prompted, objects, object_windows)
            if encode_memory
            else None
        )
        return TrackStepOutput(masks=masks, detections=detections, memory=memory)
