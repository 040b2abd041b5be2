"""Runs the model through clips of T frames with the memory loop inside the autograd graph.

Each frame reads, for every tracked object, the memories made on earlier frames of the same clip
(its conditioning frames, the last ``max_recent_frames`` frames, object pointers and the object's
detection tokens) and the detector reads the scene tokens of the last ``num_scene_frames``
frames. Nothing is detached, so the losses of later frames train the memory encoder and memory
attention through time, as SAM 2 trains.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam2_enhanced.data.clip_dataset import ClipBatch
from sam2_enhanced.modeling.denoising import DenoisingQueries
from sam2_enhanced.modeling.dinov2_encoder import EncoderOutput
from sam2_enhanced.modeling.motion_branch import neighbour_index
from sam2_enhanced.modeling.sam2_base_enhanced import (
    ObjectPrompts,
    SAM2EnhancedBase,
    TrackStepOutput,
)
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE
from sam2_enhanced.modeling.search_window import remap_logits
from sam2_enhanced.predictor.object_windows import WindowPlanner
from sam2_enhanced.training.class_losses import build_class_loss
from sam2_enhanced.training.clip_frames import ContextFrames, EncodedFrames, FrameTruth
from sam2_enhanced.training.config import TrainConfig
from sam2_enhanced.training.detection_targets import (
    FrameTargets,
    detection_targets,
    frame_denoising_queries,
)
from sam2_enhanced.training.drift_windows import DriftWindows
from sam2_enhanced.training.losses import MaskCriterion, SetCriterion
from sam2_enhanced.training.matcher import HungarianMatcher
from sam2_enhanced.training.memory_history import ObjectHistory, SceneHistory
from sam2_enhanced.training.prompts import (
    choose_prompt,
    corrective_clicks,
    drop_previous,
    first_frame_prompts,
)


def resize_frames(frames: Tensor, image_size: int) -> Tensor:
    """(T, 3, H, W) RGB in [0, 1] -> (T, 3, image_size, image_size), bilinear with antialias."""
    if frames.shape[-2:] == (image_size, image_size):
        return frames
    return F.interpolate(
        frames, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
    )


def split_frames(encoded: EncoderOutput) -> list[EncoderOutput]:
    """A batch of B encoded frames -> B single-frame outputs (one cheap split in backward)."""
    fields = (encoded.features, encoded.pos, encoded.fpn_s1, encoded.fpn_s0)
    if encoded.motion is not None:
        fields = (*fields, encoded.motion)
    return [EncoderOutput(*parts) for parts in zip(*(f.split(1) for f in fields), strict=True)]


DET_TERMS = (  # DetectionLosses fields
    *("class_loss", "l1", "giou", "refine_class", "refine_box"),
    *("dn_class", "dn_l1", "dn_giou"),
)
MASK_TERMS = ("focal", "dice", "projection", "iou", "object_score")  # MaskLosses fields
LOSS_TERMS = tuple(f"det_{n}" for n in DET_TERMS) + tuple(f"mask_{n}" for n in MASK_TERMS)


@dataclass
class ClipLoss:
    """Loss of a batch of clips: the value to backpropagate and unweighted terms to log."""

    total: Tensor  # scalar, weighted sum averaged over frames and clips
    terms: dict[str, float] = field(default_factory=dict)  # LOSS_TERMS -> mean over frames, clips


class SequenceLoss(nn.Module):
    """The model plus its training losses; ``forward`` runs a batch of clips (DDP wraps this)."""

    def __init__(self, model: SAM2EnhancedBase, cfg: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.mask_criterion = MaskCriterion(
            focal_weight=cfg.mask_focal_weight,
            dice_weight=cfg.mask_dice_weight,
            iou_weight=cfg.iou_weight,
            object_score_weight=cfg.object_score_weight,
            projection_weight=cfg.box_projection_weight,
            focal_alpha=cfg.mask_focal_alpha,
            focal_gamma=cfg.focal_gamma,
        )
        self.set_criterion = SetCriterion(
            matcher=HungarianMatcher(
                class_weight=cfg.det_class_weight,
                l1_weight=cfg.det_l1_weight,
                giou_weight=cfg.det_giou_weight,
                focal_alpha=cfg.focal_alpha,
                focal_gamma=cfg.focal_gamma,
            ),
            class_weight=cfg.det_class_weight,
            l1_weight=cfg.det_l1_weight,
            giou_weight=cfg.det_giou_weight,
            refine_weight=cfg.refine_weight,
            small_object_size=model.config.heads.small_object_size,
            image_size=model.image_size,
            small_object_boost=cfg.small_object_boost,
            class_loss=build_class_loss(
                cfg.det_class_loss,
                focal_alpha=cfg.focal_alpha,
                varifocal_alpha=cfg.varifocal_alpha,
                gamma=cfg.focal_gamma,
            ),
            proposal_assignment=cfg.proposal_assignment,
            proposal_radius=cfg.proposal_radius,
        )
        if cfg.dn_groups > 0 and model.detr_decoder.denoising_label_embed is None:
            raise ValueError(
                f"train.dn_groups={cfg.dn_groups} needs a model built with "
                "model.decoder.use_denoising: true, got one without; set it (and "
                "train.init_from_strict: false to fine-tune a model saved without it)"
            )

    def forward(self, batch: ClipBatch, generator: torch.Generator) -> ClipLoss:
        """Loss of a :class:`ClipBatch` (B clips of T frames), averaged over clips.

        Args:
            batch: clips with frames (B, T, 3, H, W) in [0, 1] and their ground truth.
            generator: CPU generator for object subsets and prompts.
        """
        num_clips, num_frames = batch.frames.shape[:2]
        if batch.context_xyxy is None:  # every frame's input is known: encode them in one batch
            images = resize_frames(batch.frames.flatten(0, 1), self.model.image_size)
            neighbours = None
            # each whole frame's neighbour within its clip; windows get none (a window's
            # neighbour would be another window; the predictor detects on whole frames only)
            if self.model.uses_motion and batch.windows_xyxy is None:
                within = neighbour_index(num_frames)
                index = [b * num_frames + n for b in range(num_clips) for n in within]
                neighbours = images[index]  # (B*T, 3, S, S)
            frames = split_frames(self.model.encode_image(images, neighbours))  # B*T inputs
        total = batch.frames.new_zeros(())
        terms = dict.fromkeys(LOSS_TERMS, 0.0)
        for b in range(num_clips):
            if batch.context_xyxy is None:
                clip_frames = EncodedFrames(frames[b * num_frames : (b + 1) * num_frames], batch, b)
            else:
                clip_frames = ContextFrames(self.model, batch, b)
            clip_total, clip_terms = self.clip_loss(batch, b, clip_frames, generator)
            total = total + clip_total / num_clips
            for name, value in clip_terms.items():
                terms[name] += value / num_clips
        return ClipLoss(total=total, terms=terms)

    def tracked_objects(self, batch: ClipBatch, b: int, generator: torch.Generator) -> Tensor:
        """(O,) indices of the objects prompted in clip ``b``: trackable and visible on frame 0,
        at random."""
        visible = batch.trackable[b] & (batch.masks[b, 0].flatten(1) > 0.5).any(dim=1)
        candidates = torch.nonzero(visible).flatten()
        order = torch.randperm(candidates.numel(), generator=generator).to(candidates.device)
        return candidates[order[: self.cfg.max_objects_per_clip]].sort().values

    def frame_targets(self, batch: ClipBatch, b: int, truth: FrameTruth) -> FrameTargets | None:
        """Detection targets of one frame of clip ``b``, or None: a clip not labelled
        exhaustively without ``train.partial_label_detection`` (no detection loss there)."""
        exhaustive = batch.exhaustive is None or bool(batch.exhaustive[b])
        if not (exhaustive or self.cfg.partial_label_detection):
            return None
        labels, boxes = detection_targets(
            truth.boxes_xyxy, truth.visibility, batch.class_ids[b], truth.masks.shape[-2:]
        )
        return FrameTargets(labels, boxes, exhaustive)

    def denoising_queries(
        self, targets: FrameTargets | None, generator: torch.Generator
    ) -> DenoisingQueries | None:
        """Denoising queries of one frame from its detection ``targets`` (``train.dn_groups``),
        or None: off, no targets or not labelled exhaustively, or no visible target."""
        if self.cfg.dn_groups == 0 or targets is None or not targets.exhaustive:
            return None
        return frame_denoising_queries(
            self.cfg,
            self.model.config.heads.num_classes,
            targets.labels,
            targets.boxes_cxcywh,
            generator,
        )

    def corrective_frames(self, num_frames: int, generator: torch.Generator) -> set[int]:
        """Later frames of a clip that get a corrective click (often none)."""
        if num_frames < 2 or float(torch.rand((), generator=generator)) >= self.cfg.prob_corrective:
            return set()
        count = int(torch.randint(1, self.cfg.max_corrective_frames + 1, (), generator=generator))
        picks = torch.randperm(num_frames - 1, generator=generator)[:count] + 1
        return set(picks.tolist())

    def drift_windows(
        self, batch: ClipBatch, b: int, frames: EncodedFrames | ContextFrames, num_objects: int
    ) -> DriftWindows | None:
        """Clip ``b``'s windows that follow the model (``train.prob_drift_window``), or None:
        only for window clips with context and one tracked target."""
        if (
            self.cfg.prob_drift_window == 0
            or not isinstance(frames, ContextFrames)
            or num_objects != 1
        ):
            return None
        if batch.video_hw is None:
            raise ValueError(
                "train.prob_drift_window needs each clip's video size (ClipBatch.video_hw) to "
                "place windows as the predictor does; the window-clip datasets set it"
            )
        return DriftWindows(
            WindowPlanner(self.model.config.search_window, self.model.image_size),
            self.cfg.prob_drift_window,
            batch.context_xyxy[b],
            tuple(batch.video_hw[b].tolist()),
        )

    def clip_loss(
        self,
        batch: ClipBatch,
        b: int,
        frames: EncodedFrames | ContextFrames,
        generator: torch.Generator,
    ) -> tuple[Tensor, dict[str, float]]:
        """Run clip ``b`` (its T frames) frame by frame; returns (loss, loss terms)."""
        cfg, bank_cfg = self.cfg, self.model.config.memory_bank
        num_frames = len(frames)
        objects = self.tracked_objects(batch, b, generator)
        choice = choose_prompt(
            prob_mask=cfg.prob_mask_prompt,
            prob_box=cfg.prob_box_prompt,
            max_points=cfg.max_init_points,
            generator=generator,
        )
        correct_at = self.corrective_frames(num_frames, generator)
        drift = self.drift_windows(batch, b, frames, len(objects))
        histories = [ObjectHistory.from_config(bank_cfg) for _ in objects]
        scene = SceneHistory(bank_cfg.num_scene_frames)
        total = batch.frames.new_zeros(())
        terms: dict[str, float] = defaultdict(float)
        previous, previous_window = None, None  # (O, 1, m, m) logits of the frame before
        for t in range(num_frames):
            frame = frames(t, drift.window(t, generator) if drift else None)
            gt_masks = frame.truth.masks[objects]  # (O, S, S)
            if previous is not None and frame.window_xyxy is not None:
                previous = remap_logits(
                    previous,
                    previous_window.expand(len(objects), -1),
                    frame.window_xyxy[None].expand(len(objects), -1),
                    NO_OBJ_SCORE,
                )  # over this frame's window, as the predictor hands it on
            if previous is not None and cfg.prob_drop_previous > 0:
                previous = drop_previous(previous, cfg.prob_drop_previous, generator)
            memories = [h.readout(t) for h in histories]
            prompts = None
            if t == 0 and len(objects):
                prompts = first_frame_prompts(
                    gt_masks,
                    choice,
                    image_size=self.model.image_size,
                    mask_size=self.model.mask_size,
                    box_jitter=cfg.box_jitter,
                    box_jitter_max_px=cfg.box_jitter_max_px,
                    generator=generator,
                )
            elif t in correct_at and len(objects):
                prompts = self.correction(frame.encoded, memories, previous, gt_masks, generator)
            targets = self.frame_targets(batch, b, frame.truth)
            denoising = self.denoising_queries(targets, generator)
            out = self.model.track_step(
                frame.encoded,
                prompts,
                memories,
                scene.read(),
                multimask_output=t == 0 and choice.multimask,
                encode_memory=t < num_frames - 1,
                previous_logits=previous,
                denoising=denoising,
            )
            if out.masks is not None:
                previous = out.masks.mask_logits.detach()
                previous_window = frame.window_xyxy[None] if frame.window_xyxy is not None else None
                if drift:
                    drift.follow(out.masks, frame.window_xyxy)
            frame_terms = self.frame_losses(out, batch, b, targets, gt_masks, denoising)
            total = total + frame_terms.pop("total") / num_frames
            for name, value in frame_terms.items():
                terms[name] += float(value) / num_frames
            if out.memory is not None:
                prompted = (
                    prompts.is_prompted.tolist() if prompts is not None else [False] * len(objects)
                )
                for o, history in enumerate(histories):
                    history.add(t, out.memory, o, prompted[o])
                scene.add(out.memory.scene_tokens)
        return total, terms

    def frame_losses(
        self,
        out: TrackStepOutput,
        batch: ClipBatch,
        b: int,
        targets: FrameTargets | None,
        gt_masks: Tensor,
        denoising: DenoisingQueries | None = None,
    ) -> dict[str, Tensor]:
        """Detection and mask losses of one frame of clip ``b`` (its detection ``targets`` from
        :meth:`frame_targets`, the tracked objects' masks ``gt_masks`` (O, S, S), the denoising
        queries the detector was given, if any): "total" plus named terms.

        Clips not labelled exhaustively (real single-object video: only the target has a box)
        never get the full set loss: every unlabelled object a query found would be pushed to
        "no object", teaching the detector to miss real objects. With
        ``train.partial_label_detection`` they get its positives-only form (the target's own
        queries and proposals, class-agnostic), else none. Their box-only targets get the
        projection mask loss (:class:`MaskCriterion`).
        """
        terms = {"total": gt_masks.new_zeros(())}
        if targets is not None:
            det = self.set_criterion(
                out.detections,
                targets.labels,
                targets.boxes_cxcywh,
                denoising,
                positives_only=not targets.exhaustive,
            )
            terms["total"] = det.total
            for name in DET_TERMS:
                terms[f"det_{name}"] = getattr(det, name).detach()
        if out.masks is not None:
            box_only = None
            if batch.box_only is not None:
                box_only = batch.box_only[b].expand(gt_masks.shape[0])  # (O,) one flag per clip
            masks = self.mask_criterion(out.masks, gt_masks, box_only)
            terms["total"] = terms["total"] + masks.total
            for name in MASK_TERMS:
                terms[f"mask_{name}"] = getattr(masks, name).detach()
        return terms

    @torch.no_grad()
    def correction(self, frame, memories, previous, gt_masks: Tensor, generator) -> ObjectPrompts:
        """Predict as if unprompted (memory, previous centre), then click into each error."""
        num_objects = gt_masks.shape[0]
        prior = self.model.segment(
            frame, ObjectPrompts.none(num_objects, gt_masks.device), memories, False, previous
        )
        logits = F.interpolate(
            prior.mask_logits.float(),
            size=gt_masks.shape[-2:],
            mode="bilinear",
            align_corners=False,
        )  # (O, 1, H, W)
        return corrective_clicks(logits[:, 0] > 0, gt_masks, self.model.image_size, generator)
