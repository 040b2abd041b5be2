"""An online target model: a multi-channel discriminative correlation filter learned on this
video at test time (MOSSE / DSST's closed form in the Fourier domain, on the hand-made features
of :mod:`.target_features`), batched over objects.

Why: a network trained from scratch on synthetic clips cannot tell an unseen target from its
surroundings; a filter fit on the prompt frame can (CSRT, DiMP). Its response locates the target
in a patch around where it is expected; the peak, its peak-to-sidelobe ratio (PSR) and the
strongest competing peak say how sure it is (presence, memory admission, re-detection).

The filter of one object, over B objects and K samples::

    H_c = A_c / (D + lambda),   A_c = sum_k w_k Y conj(X_kc),   D = sum_k w_k sum_c |X_kc|^2

with X the (Hann-windowed) features' 2-D FFT and Y a Gaussian label's; the response to features
Z is ``ifft(sum_c H_c Z_c)``. The prompt frame's A and D (fit on augmented copies: flip, blur,
small rotations, as DiMP's first-frame samples) keep a fixed share of the weight; later frames
update a running A and D at a learning rate.

Patch geometry: a patch is a square of ``search_scale`` times the target's size ``sqrt(w * h)``
(at least ``min_side`` px) around a centre, resampled to ``template_side`` px; features have
``template_side / cell`` cells a side. Shapes: B objects, S scales, K samples; patches
(B, [S | K,] 3, P, P) float in [0, 1]; responses (B, S, h, w), zero displacement at (h // 2,
w // 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from sam2_enhanced.modeling.target_features import target_features

AUGMENT_ANGLES = (-8.0, 8.0)  # degrees of the rotated first-frame copies
AUGMENT_BLUR_SIGMA = 1.0  # px of the blurred copy
AUGMENT_WEIGHT = 0.5  # weight of each augmented copy against the prompt patch itself (1)


@dataclass
class FilterState:
    """The learned filters of B objects (Fourier domain, rfft layout: w' = w // 2 + 1)."""

    numerator: Tensor  # (B, C, h, w') complex running sum of Y conj(X)
    denominator: Tensor  # (B, h, w') running sum of sum_c |X_c|^2
    first_numerator: Tensor  # (B, C, h, w') the prompt frame's share
    first_denominator: Tensor  # (B, h, w')

    def select(self, index: int) -> FilterState:
        """Object ``index`` alone (B = 1)."""
        part = slice(index, index + 1)
        return FilterState(
            self.numerator[part],
            self.denominator[part],
            self.first_numerator[part],
            self.first_denominator[part],
        )

    @staticmethod
    def cat(states: list[FilterState]) -> FilterState:
        """Stack per-object filters into one batch."""
        return FilterState(
            torch.cat([s.numerator for s in states]),
            torch.cat([s.denominator for s in states]),
            torch.cat([s.first_numerator for s in states]),
            torch.cat([s.first_denominator for s in states]),
        )


@dataclass
class Located:
    """Where each object's response peaks, and how sure it is."""

    offset_cells: Tensor  # (B, 2) x, y displacement of the peak from the patch centre, cells
    scale_index: Tensor  # (B,) long, the scale whose response peaks highest
    peak: Tensor  # (B,) response at the peak (about 1 on a perfect match)
    psr: Tensor  # (B,) peak-to-sidelobe ratio: (peak - mean) / std outside the peak's area
    second_ratio: Tensor  # (B,) strongest response outside the peak's area / the peak


def augmented_copies(patches: Tensor) -> Tensor:
    """(B, 3, P, P) prompt patches -> (B, K, 3, P, P): the patch, its mirror, a blurred copy
    and small rotations (the target stays at the centre, so every copy shares the label)."""
    blur_kernel = 2 * math.ceil(3 * AUGMENT_BLUR_SIGMA) + 1
    copies = [
        patches,
        TF.horizontal_flip(patches),
        TF.gaussian_blur(patches, [blur_kernel, blur_kernel], [AUGMENT_BLUR_SIGMA] * 2),
    ]
    copies += [
        TF.rotate(patches, angle, interpolation=TF.InterpolationMode.BILINEAR)
        for angle in AUGMENT_ANGLES
    ]
    return torch.stack(copies, dim=1)  # (B, K, 3, P, P)


def augment_weights(num_copies: int) -> Tensor:
    """(K,) sample weights of :func:`augmented_copies`: 1 for the patch, less for copies."""
    weights = torch.full((num_copies,), AUGMENT_WEIGHT)
    weights[0] = 1.0
    return weights


class CorrelationFilter:
    """Fits, updates and applies the filters (see the module docstring); holds no object state.

    Args:
        search_scale: patch side / the target's size (its share of the patch sets the label).
        template_side: patch side P in pixels after resampling; a multiple of ``cell``.
        cell: feature cell side in patch pixels.
        num_orientations: gradient-orientation bins of the features.
        label_sigma: std of the Gaussian label as a fraction of the target's side.
        reg: ridge regularisation, as a fraction of the mean spectral energy.
        first_frame_share: weight of the prompt frame's filter in every later filter.
    """

    def __init__(
        self,
        *,
        search_scale: float,
        template_side: int,
        cell: int,
        num_orientations: int,
        label_sigma: float,
        reg: float,
        first_frame_share: float,
    ) -> None:
        if template_side % cell:
            raise ValueError(f"template_side {template_side} must be a multiple of cell {cell}")
        if not 0.0 <= first_frame_share <= 1.0:
            raise ValueError(f"first_frame_share must be in [0, 1], got {first_frame_share}")
        self.search_scale = search_scale
        self.template_side = template_side
        self.cell = cell
        self.num_orientations = num_orientations
        self.reg = reg
        self.first_frame_share = first_frame_share
        side = template_side // cell
        self.target_cells = side / search_scale  # the target's side in feature cells
        steps = torch.arange(side, dtype=torch.float32)
        distance = torch.minimum(steps, side - steps)  # circular distance from cell 0
        sigma = max(label_sigma * self.target_cells, 0.5)
        gauss = torch.exp(-(distance**2) / (2 * sigma**2))  # (h,)
        self.label_fft = torch.fft.rfft2(gauss[:, None] * gauss[None, :])  # (h, w')
        hann = torch.hann_window(side, periodic=False)
        self.window = hann[:, None] * hann[None, :]  # (h, w): the cosine window

    @property
    def feature_side(self) -> int:
        return self.template_side // self.cell

    def spectra(self, patches: Tensor) -> Tensor:
        """(N, 3, P, P) patches -> (N, C, h, w') FFT of the windowed features."""
        features = target_features(
            patches, cell=self.cell, num_orientations=self.num_orientations
        )  # (N, C, h, w)
        return torch.fft.rfft2(features * self.window)

    def _sums(self, samples: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
        """(B, K, 3, P, P) samples, (B, K) weights -> numerator (B, C, h, w'), denominator."""
        batch, num = samples.shape[:2]
        spectra = self.spectra(samples.flatten(0, 1))  # (B K, C, h, w')
        spectra = spectra.view(batch, num, *spectra.shape[1:])  # (B, K, C, h, w')
        w = weights.to(spectra.real)[:, :, None, None, None]  # (B, K, 1, 1, 1)
        numerator = (w * self.label_fft * spectra.conj()).sum(dim=1)  # (B, C, h, w')
        energy = (spectra.real**2 + spectra.imag**2).sum(dim=2)  # (B, K, h, w')
        denominator = (w[:, :, 0] * energy).sum(dim=1)  # (B, h, w')
        return numerator, denominator

    def fit(self, samples: Tensor, weights: Tensor | None = None) -> FilterState:
        """Filters from the prompt frame: samples (B, K, 3, P, P), weights (K,) or (B, K)."""
        if samples.ndim != 5:
            raise ValueError(f"samples must have shape (B, K, 3, P, P), got {samples.shape}")
        batch, num = samples.shape[:2]
        if weights is None:
            weights = torch.ones(num)
        weights = weights.expand(batch, num) if weights.ndim == 1 else weights
        weights = weights / weights.sum(dim=1, keepdim=True)
        numerator, denominator = self._sums(samples, weights)
        return FilterState(numerator, denominator, numerator.clone(), denominator.clone())

    def update(self, state: FilterState, patches: Tensor, rates: Tensor) -> FilterState:
        """Blend new samples (B, 3, P, P) into the running filters at ``rates`` (B,) in [0, 1]
        (0 leaves an object's filter as it was)."""
        numerator, denominator = self._sums(patches[:, None], torch.ones(len(patches), 1))
        rate = rates.float().clamp(0, 1)
        keep = 1 - rate
        return FilterState(
            keep[:, None, None, None] * state.numerator + rate[:, None, None, None] * numerator,
            keep[:, None, None] * state.denominator + rate[:, None, None] * denominator,
            state.first_numerator,
            state.first_denominator,
        )

    def respond(self, state: FilterState, patches: Tensor, support: Tensor | None = None) -> Tensor:
        """Responses of the filters to patches (B, S, 3, P, P) -> (B, S, h, w), centred.

        ``support`` (B, h, w): where each filter may be non-zero, as a template over the patch
        (the target's box, centred): the closed-form filter is projected onto it, one step of
        CSR-DCF's constrained solution, so the background around a target does not become what
        it tracks. None: unconstrained (MOSSE / DSST).
        """
        batch, scales = patches.shape[:2]
        spectra = self.spectra(patches.flatten(0, 1))  # (B S, C, h, w')
        spectra = spectra.view(batch, scales, *spectra.shape[1:])  # (B, S, C, h, w')
        share = self.first_frame_share
        numerator = share * state.first_numerator + (1 - share) * state.numerator
        denominator = share * state.first_denominator + (1 - share) * state.denominator
        lam = self.reg * denominator.mean(dim=(-2, -1), keepdim=True) + 1e-12  # (B, 1, 1)
        filters = numerator / (denominator + lam)[:, None]  # (B, C, h, w')
        side = self.feature_side
        if support is not None:
            template = torch.fft.irfft2(filters.conj(), s=(side, side))  # (B, C, h, w)
            filters = torch.fft.rfft2(template * support[:, None]).conj()
        response_fft = (filters[:, None] * spectra).sum(dim=2)  # (B, S, h, w')
        response = torch.fft.irfft2(response_fft, s=(side, side))  # (B, S, h, w)
        return torch.fft.fftshift(response, dim=(-2, -1))


def box_support(boxes_wh_cells: Tensor, side: int) -> Tensor:
    """(B, 2) template extents (width, height) in cells -> (B, h, w) float masks of 1 inside a
    box of that size centred on the patch, 0 outside (at least 2 cells a side)."""
    centre = side // 2
    steps = torch.arange(side, dtype=torch.float32) - centre  # (h,)
    half = (boxes_wh_cells.float() / 2).clamp(min=1.0)  # (B, 2)
    inside_x = steps[None].abs() <= half[:, 0:1]  # (B, w)
    inside_y = steps[None].abs() <= half[:, 1:2]  # (B, h)
    return (inside_y[:, :, None] & inside_x[:, None, :]).float()


def _subcell(values: Tensor, index: Tensor) -> Tensor:
    """Parabolic refinement of integer peak positions ``index`` (B,) along rows of
    ``values`` (B, n) -> (B,) float positions."""
    size = values.shape[1]
    left = values.gather(1, (index - 1).clamp(0, size - 1)[:, None])[:, 0]
    centre = values.gather(1, index[:, None])[:, 0]
    right = values.gather(1, (index + 1).clamp(0, size - 1)[:, None])[:, 0]
    curvature = left - 2 * centre + right
    step = torch.where(curvature < 0, 0.5 * (left - right) / curvature.clamp(max=-1e-12), 0.0)
    return index.float() + step.clamp(-0.5, 0.5)


def locate_peaks(responses: Tensor, scale_penalty: Tensor, exclude_radius: float) -> Located:
    """Pick each object's best scale and peak.

    Args:
        responses: (B, S, h, w) centred responses.
        scale_penalty: (S,) multipliers of each scale's peak when choosing (1 at the unit
            scale, less elsewhere, so a scale change needs a clearly better response).
        exclude_radius: half side in cells of the peak's area, left out of the sidelobe.
    """
    batch, scales, height, width = responses.shape
    peaks = responses.flatten(2).amax(dim=2)  # (B, S)
    scale_index = (peaks * scale_penalty.to(peaks)[None]).argmax(dim=1)  # (B,)
    best = responses[torch.arange(batch), scale_index]  # (B, h, w)
    flat_index = best.flatten(1).argmax(dim=1)  # (B,)
    row, col = flat_index // width, flat_index % width
    ys = torch.arange(height)[None, :, None]
    xs = torch.arange(width)[None, None, :]
    radius = max(exclude_radius, 1.0)
    near = ((ys - row[:, None, None]).abs() <= radius) & (
        (xs - col[:, None, None]).abs() <= radius
    )  # (B, h, w)
    far = ~near
    count = far.flatten(1).sum(dim=1).clamp(min=2)
    sidelobe = torch.where(far, best, 0.0).flatten(1)
    mean = sidelobe.sum(dim=1) / count
    var = (torch.where(far, best - mean[:, None, None], 0.0) ** 2).flatten(1).sum(1) / count
    peak = best.flatten(1).amax(dim=1)
    psr = (peak - mean) / var.sqrt().clamp(min=1e-6)
    second = torch.where(far, best, -math.inf).flatten(1).amax(dim=1)
    second_ratio = torch.where(peak > 0, second.clamp(min=0) / peak.clamp(min=1e-12), 1.0)
    y = _subcell(best[torch.arange(batch), :, col], row)  # (B,) along the peak's column
    x = _subcell(best[torch.arange(batch), row, :], col)  # (B,) along the peak's row
    offset = torch.stack([x - width // 2, y - height // 2], dim=1)  # (B, 2)
    return Located(offset, scale_index, peak, psr, second_ratio)


def scale_factors(num_scales: int, scale_step: float) -> Tensor:
    """(S,) patch scales ``scale_step ** k`` for k centred on 0 (S odd)."""
    if num_scales < 1 or num_scales % 2 == 0:
        raise ValueError(f"num_scales must be odd and >= 1, got {num_scales}")
    exponents = torch.arange(num_scales, dtype=torch.float32) - num_scales // 2
    return scale_step**exponents


def patch_windows(centres_xy: Tensor, sides: Tensor) -> Tensor:
    """Square patches (N, 4) xyxy of sides (N,) around centres (N, 2), not rounded."""
    half = sides[:, None] / 2
    return torch.cat([centres_xy - half, centres_xy + half], dim=1)


def crop_patches(frame: Tensor, windows_xyxy: Tensor, out_side: int) -> Tensor:
    """Patches of a (3, H, W) uint8 frame -> (N, 3, P, P) float in [0, 1].

    Sub-pixel placement; pixels outside the frame repeat its border. Each patch is box-filtered
    before bilinear sampling when it shrinks, so a large patch does not alias.
    """
    if len(windows_xyxy) == 0:
        return torch.zeros(0, 3, out_side, out_side)
    height, width = frame.shape[-2:]
    sides = (windows_xyxy[:, 2:] - windows_xyxy[:, :2]).amax(dim=1)  # (N,)
    steps = (torch.arange(out_side, dtype=torch.float32) + 0.5) / out_side  # (P,)
    patches = []
    for window, side in zip(windows_xyxy.float(), sides.tolist(), strict=True):
        factor = max(int(side // out_side), 1)  # integer pre-shrink against aliasing
        # only the frame region under the window (plus a margin) is converted and pooled; its
        # origin is a multiple of the pooling factor, so pooled cells match the whole frame's
        x0 = min(max(math.floor(window[0]) - 2 * factor, 0), width - 1) // factor * factor
        y0 = min(max(math.floor(window[1]) - 2 * factor, 0), height - 1) // factor * factor
        x1 = max(min(math.ceil(window[2]) + 2 * factor, width), x0 + 1)
        y1 = max(min(math.ceil(window[3]) + 2 * factor, height), y0 + 1)
        region = frame[:, y0:y1, x0:x1].float()[None] / 255.0  # (1, 3, h, w)
        source = F.avg_pool2d(region, factor, ceil_mode=True) if factor > 1 else region
        xs = window[0] + steps * (window[2] - window[0]) - x0  # (P,) region x of each sample
        ys = window[1] + steps * (window[3] - window[1]) - y0
        gx = (xs / factor) / source.shape[-1] * 2 - 1  # grid_sample's [-1, 1]
        gy = (ys / factor) / source.shape[-2] * 2 - 1
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)  # (P, P, 2)
        patches.append(
            F.grid_sample(
                source, grid[None], mode="bilinear", padding_mode="border", align_corners=False
            )
        )
    return torch.cat(patches)  # (N, 3, P, P)
