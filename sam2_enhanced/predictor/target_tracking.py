"""The predictor's side of the online target model: each prompted object's correlation filter
and Kalman filter, where they put the object on a frame, and how their answer is fused with the
network's mask (``target_model.mode``).

Per frame and object: the Kalman filter predicts the centre; the correlation filter's response
on patches around it (at a few scales; on a 3 x 3 grid of patches once the object has been
absent ``lost_search_frames`` frames) corrects it. The peak relative to the object's usual peak,
the peak-to-sidelobe ratio and the strongest competing peak decide presence, and whether the
frame is clean enough to learn from and to store as a memory (:class:`TargetEstimate`). In
"fused" mode the network's mask is kept where its box agrees with the filter in place and size
(a flood or a jump to a look-alike does not); otherwise the filter's box is the output.

Geometry is pure tensor code in :mod:`.modeling.target_model` and :mod:`.modeling.kalman`;
this module applies it with a :class:`~sam2_enhanced.config.TargetModelConfig`. Shapes: O
objects; frames (3, H, W) uint8; boxes (O, 4) xyxy video pixels, NaN rows for "absent".
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sam2_enhanced.config import TargetModelConfig
from sam2_enhanced.modeling.kalman import KalmanState, kalman_predict, kalman_update
from sam2_enhanced.modeling.target_model import (
    CorrelationFilter,
    FilterState,
    Located,
    augment_weights,
    augmented_copies,
    box_support,
    crop_patches,
    locate_peaks,
    patch_windows,
    scale_factors,
)

AREA_HISTORY = 10  # accepted box areas kept per object (their median is its usual size)
BOX_LOGIT = 10.0  # mask logit inside / minus outside a box drawn as a mask
MIN_SIZE_PX = 2.0  # smallest side an object's size estimate may shrink to
PEAK_AREA = 0.75  # half side of a response peak's area, in object sides (PSR's exclusion)
GRID_OFFSETS = torch.tensor(
    [[dx, dy] for dy in (-1.0, 0.0, 1.0) for dx in (-1.0, 0.0, 1.0)]
)  # (9, 2) re-detection patch centres, in half patch sides


@dataclass
class ObjectTarget:
    """One object's online target model."""

    filter: FilterState  # B = 1
    motion: KalmanState  # B = 1, centre and velocity
    size_wh: Tensor  # (2,) width, height in video pixels
    reference_peak: float  # the usual response peak on frames learned from
    areas: deque = field(default_factory=lambda: deque(maxlen=AREA_HISTORY))  # recent areas
    lost_frames: int = 0  # consecutive frames judged absent

    @property
    def size(self) -> float:
        """sqrt(w * h) in pixels."""
        return float(self.size_wh.prod().sqrt())

    def usual_area(self) -> float:
        """Median of the recent accepted box areas (w * h px)."""
        return float(torch.tensor(list(self.areas)).median())


@dataclass
class TargetEstimate:
    """The target models' answer on one frame."""

    boxes_xyxy: Tensor  # (O, 4) box at the response peak with the estimated size
    predicted_xy: Tensor  # (O, 2) the Kalman prediction before correction
    peak_ratio: Tensor  # (O,) peak / the object's usual peak
    psr: Tensor  # (O,) peak-to-sidelobe ratio
    second_ratio: Tensor  # (O,) strongest competing peak / the peak
    present: Tensor  # (O,) bool: the object is there
    reliable: Tensor  # (O,) bool: present, unambiguous and strong enough to learn from

    def window_boxes(self, targets: list[ObjectTarget]) -> Tensor:
        """(O, 4) where each object's window goes: its box when present, else its size at the
        predicted centre."""
        sizes = torch.stack([t.size_wh for t in targets]) if targets else torch.zeros(0, 2)
        predicted = torch.cat([self.predicted_xy - sizes / 2, self.predicted_xy + sizes / 2], 1)
        return torch.where(self.present[:, None], self.boxes_xyxy, predicted)


def box_centres(boxes_xyxy: Tensor) -> Tensor:
    """(N, 4) -> (N, 2)."""
    return (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:]) / 2


def clip_to_box(
    mask_logits: Tensor, box_xyxy: Tensor, window_xyxy: Tensor, margin: float
) -> Tensor:
    """(1, m, m) mask logits over a window with everything outside ``box_xyxy`` (4) grown by
    ``margin`` about its centre set to -BOX_LOGIT or lower (a mask cannot flood past the
    target model's box)."""
    centre = (box_xyxy[:2] + box_xyxy[2:]) / 2
    half = (box_xyxy[2:] - box_xyxy[:2]) * margin / 2
    grown = torch.cat([centre - half, centre + half])
    inside = box_mask_logits(grown, window_xyxy, mask_logits.shape[-1]).to(mask_logits) > 0
    return torch.where(inside, mask_logits, mask_logits.clamp(max=-BOX_LOGIT))


def box_mask_logits(box_xyxy: Tensor, window_xyxy: Tensor, size: int) -> Tensor:
    """A box (4,) drawn as (1, m, m) mask logits over a window (4,): +BOX_LOGIT at cells whose
    centre lies inside the box, -BOX_LOGIT elsewhere (bilinear pasting then puts the mask's
    edge halfway between cells)."""
    steps = (torch.arange(size, dtype=torch.float32) + 0.5) / size  # (m,)
    xs = window_xyxy[0] + steps * (window_xyxy[2] - window_xyxy[0])
    ys = window_xyxy[1] + steps * (window_xyxy[3] - window_xyxy[1])
    inside_x = (xs >= box_xyxy[0]) & (xs <= box_xyxy[2])
    inside_y = (ys >= box_xyxy[1]) & (ys <= box_xyxy[3])
    inside = inside_y[:, None] & inside_x[None, :]  # (m, m)
    return torch.where(inside, BOX_LOGIT, -BOX_LOGIT)[None]


class OnlineTargets:
    """Target models of a predictor's objects (see the module docstring)."""

    def __init__(self, cfg: TargetModelConfig) -> None:
        self.cfg = cfg
        self.filter = CorrelationFilter(
            search_scale=cfg.search_scale,
            template_side=cfg.template_side,
            cell=cfg.cell,
            num_orientations=cfg.num_orientations,
            label_sigma=cfg.label_sigma,
            reg=cfg.reg,
            first_frame_share=cfg.first_frame_share,
        )
        self.scales = scale_factors(cfg.num_scales, cfg.scale_step)  # (S,)
        self.scale_penalty = torch.where(self.scales == 1.0, 1.0, cfg.scale_penalty)

    @property
    def enabled(self) -> bool:
        return self.cfg.mode != "network"

    def patch_sides(self, sizes: Tensor) -> Tensor:
        """(N,) object sizes -> (N,) patch sides in video pixels."""
        return (sizes * self.cfg.search_scale).clamp(min=self.cfg.min_side)

    def support(self, sizes_wh: Tensor) -> Tensor | None:
        """(N, 2) object sizes -> (N, h, w) filter supports: the object's box grown by
        ``support_margin`` on its patch (None when the margin is 0: unconstrained)."""
        if self.cfg.support_margin == 0:
            return None
        sides = self.patch_sides(sizes_wh.prod(dim=1).sqrt())  # (N,)
        cells = sizes_wh * self.cfg.support_margin / sides[:, None] * self.filter.feature_side
        return box_support(cells, self.filter.feature_side)

    def position_std(self, sizes: Tensor) -> Tensor:
        return (sizes * self.cfg.position_std_frac).clamp(min=self.cfg.position_std_px)

    def start(self, frame: Tensor, box_xyxy: Tensor) -> ObjectTarget:
        """A target model fit on ``frame`` (3, H, W) uint8 around ``box_xyxy`` (4,)."""
        box = box_xyxy.float().cpu()
        if not torch.isfinite(box).all():
            raise ValueError(f"box_xyxy must be finite, got {box.tolist()}")
        size_wh = (box[2:] - box[:2]).clamp(min=MIN_SIZE_PX)  # (2,)
        centre = box_centres(box[None])  # (1, 2)
        size = size_wh.prod().sqrt()[None]  # (1,)
        patch = crop_patches(frame, patch_windows(centre, self.patch_sides(size)), self.side)
        copies = augmented_copies(patch)  # (1, K, 3, P, P)
        state = self.filter.fit(copies, augment_weights(copies.shape[1]))
        peak = float(self.filter.respond(state, patch[:, None], self.support(size_wh[None])).amax())
        position_std = self.position_std(size)
        motion = KalmanState.start(centre, position_std, position_std)
        target = ObjectTarget(state, motion, size_wh, reference_peak=max(peak, 1e-6))
        target.areas.append(float(size_wh.prod()))
        return target

    @property
    def side(self) -> int:
        return self.cfg.template_side

    @property
    def exclude_radius(self) -> float:
        """Half side in cells of a peak's area, left out of its sidelobe (PSR, second peak)."""
        return PEAK_AREA * self.filter.target_cells

    def estimate(self, frame: Tensor, targets: list[ObjectTarget]) -> TargetEstimate:
        """Predict each object's centre (its Kalman state moves one frame on) and correct it
        with its filter's response on ``frame`` (3, H, W) uint8."""
        num = len(targets)
        if num == 0:
            empty = torch.zeros(0)
            return TargetEstimate(
                torch.zeros(0, 4), torch.zeros(0, 2), empty, empty, empty,
                empty.bool(), empty.bool(),
            )  # fmt: skip
        sizes = torch.tensor([t.size for t in targets])  # (O,)
        sizes_wh = torch.stack([t.size_wh for t in targets])  # (O, 2)
        motion = kalman_predict(
            KalmanState.cat([t.motion for t in targets]), sizes * self.cfg.accel_std_frac
        )
        for i, target in enumerate(targets):
            target.motion = motion.select(i)
        predicted = motion.centres_xy  # (O, 2)
        sides = self.patch_sides(sizes)  # (O,)
        searching = [t.lost_frames >= max(self.cfg.lost_search_frames, 1) for t in targets]
        centres = [
            predicted[i] + GRID_OFFSETS * sides[i] / 2 if searching[i] else predicted[i][None]
            for i in range(num)
        ]  # each (G, 2) patch centres
        filters = FilterState.cat(
            [t.filter for t, c in zip(targets, centres, strict=True) for _ in range(len(c))]
        )
        all_centres = torch.cat(centres)  # (N, 2), N = sum of G
        owner = torch.cat([torch.full((len(c),), i) for i, c in enumerate(centres)])  # (N,)
        windows = [
            patch_windows(all_centres, sides[owner] * scale) for scale in self.scales.tolist()
        ]  # S x (N, 4)
        patches = torch.stack(
            [crop_patches(frame, w, self.side) for w in windows], dim=1
        )  # (N, S, 3, P, P)
        located = locate_peaks(
            self.filter.respond(filters, patches, self.support(sizes_wh[owner])),
            self.scale_penalty,
            exclude_radius=self.exclude_radius,
        )
        patch_scale = self.scales[located.scale_index]  # (N,)
        pixel_per_cell = sides[owner] * patch_scale * self.cfg.cell / self.side  # (N,)
        found = all_centres + located.offset_cells * pixel_per_cell[:, None]  # (N, 2)
        best = torch.stack(
            [torch.nonzero(owner == i)[:, 0][located.peak[owner == i].argmax()] for i in range(num)]
        )  # (O,) the best patch of each object
        scale = patch_scale[best]  # (O,)
        centre, located = self.recentre(targets, found[best], sides * scale, frame)
        references = torch.tensor([t.reference_peak for t in targets])
        ratio = located.peak / references
        psr, second = located.psr, located.second_ratio
        present = (ratio >= self.cfg.presence_ratio) & (psr >= self.cfg.min_psr)
        reliable = present & (ratio >= self.cfg.learn_ratio)
        reliable &= second <= self.cfg.max_second_ratio
        old_wh = torch.stack([t.size_wh for t in targets])  # (O, 2)
        rate = self.cfg.size_rate
        wh = old_wh * (1 - rate) + old_wh * scale[:, None] * rate
        boxes = torch.cat([centre - wh / 2, centre + wh / 2], dim=1)  # (O, 4)
        return TargetEstimate(boxes, predicted, ratio, psr, second, present, reliable)

    def recentre(
        self, targets: list[ObjectTarget], centres: Tensor, sides: Tensor, frame: Tensor
    ) -> tuple[Tensor, Located]:
        """Respond again on patches of sides (O,) centred where the first response peaked
        (O, 2): the cosine window pulls a peak far from a patch's centre towards it, so a fast
        target's first estimate lags. Returns the corrected centres (O, 2) and that response's
        peaks."""
        patches = crop_patches(frame, patch_windows(centres, sides), self.side)
        located = locate_peaks(
            self.filter.respond(
                FilterState.cat([t.filter for t in targets]),
                patches[:, None],
                self.support(torch.stack([t.size_wh for t in targets])),
            ),
            torch.ones(1),
            exclude_radius=self.exclude_radius,
        )
        pixel_per_cell = sides * self.cfg.cell / self.side  # (O,)
        return centres + located.offset_cells * pixel_per_cell[:, None], located

    def choose(
        self, estimate: TargetEstimate, network_boxes: list[Tensor | None], targets: list
    ) -> tuple[Tensor, Tensor]:
        """Each object's output box and whether the network's mask shapes it.

        "target": the filter's box where present. "fused": where the filter sees the object,
        its box, shaped by the network's mask when that mask agrees with it in place and size
        (:meth:`agrees`; the mask is then cut to the box, :func:`clip_to_box`); where it does
        not, the network's mask and box if they agree with the predicted centre.

        Args:
            estimate: this frame's :class:`TargetEstimate` for the O objects.
            network_boxes: each object's mask box (4,) on this frame (None: empty mask).
            targets: the O target models.

        Returns:
            boxes (O, 4) with NaN rows where the object is judged absent; use_network (O,) bool.
        """
        num = len(targets)
        boxes = torch.full((num, 4), math.nan)
        use_network = torch.zeros(num, dtype=torch.bool)
        for i, target in enumerate(targets):
            present = bool(estimate.present[i])
            network = network_boxes[i]
            reference = estimate.boxes_xyxy[i] if present else None
            if present:
                boxes[i] = estimate.boxes_xyxy[i]
            fused = self.cfg.mode == "fused" and network is not None
            if fused and self.agrees(network, reference, estimate.predicted_xy[i], target):
                use_network[i] = True
                if not present:
                    boxes[i] = network.float()
        return boxes, use_network

    def agrees(
        self, box_xyxy: Tensor, reference: Tensor | None, predicted_xy: Tensor, target
    ) -> bool:
        """A mask's box (4,) is accepted: its area within ``max_area_ratio`` of the object's
        usual area and its centre within ``max_centre_offset`` object sizes of the filter's box
        (or, when the filter sees nothing, of the predicted centre)."""
        wh = (box_xyxy[2:] - box_xyxy[:2]).clamp(min=0)
        area = float(wh.prod())
        usual = target.usual_area()
        ratio = self.cfg.max_area_ratio
        if not usual / ratio <= area <= usual * ratio:
            return False
        centre = box_centres(box_xyxy[None].float())[0]
        anchor = predicted_xy if reference is None else box_centres(reference[None])[0]
        limit = self.cfg.max_centre_offset * max(target.size, 4.0)
        return float((centre - anchor).norm()) <= limit

    def observe(
        self, frame: Tensor, targets: list[ObjectTarget], boxes: Tensor, learn: Tensor
    ) -> None:
        """Record each object's output box (O, 4) (NaN: absent): correct its Kalman state,
        size and usual area, and learn from the frame where ``learn`` (O,) is set."""
        if not targets:
            return
        present = ~torch.isnan(boxes).any(dim=1)  # (O,)
        sizes = torch.tensor([t.size for t in targets])
        motion = kalman_update(
            KalmanState.cat([t.motion for t in targets]),
            box_centres(boxes),
            self.position_std(sizes),
        )
        for i, target in enumerate(targets):
            target.motion = motion.select(i)
            if not present[i]:
                target.lost_frames += 1
                continue
            target.lost_frames = 0
            target.size_wh = (boxes[i, 2:] - boxes[i, :2]).clamp(min=MIN_SIZE_PX)
            target.areas.append(float(target.size_wh.prod()))
        learning = [i for i in range(len(targets)) if learn[i] and present[i]]
        if not learning:
            return
        chosen = [targets[i] for i in learning]
        centres = box_centres(boxes[learning])
        sizes = torch.tensor([t.size for t in chosen])
        patches = crop_patches(frame, patch_windows(centres, self.patch_sides(sizes)), self.side)
        rate = torch.full((len(chosen),), self.cfg.learning_rate)
        updated = self.filter.update(FilterState.cat([t.filter for t in chosen]), patches, rate)
        support = self.support(torch.stack([t.size_wh for t in chosen]))
        peaks = self.filter.respond(updated, patches[:, None], support).flatten(1).amax(1)  # (L,)
        for j, target in enumerate(chosen):
            target.filter = updated.select(j)
            target.reference_peak = 0.9 * target.reference_peak + 0.1 * float(peaks[j])
