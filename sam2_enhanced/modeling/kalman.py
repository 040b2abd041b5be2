"""A constant-velocity Kalman filter for object centres, batched over objects (as SAMURAI uses
one beside SAM 2): it predicts where an object's window goes, and the target model's or the
mask's measurement corrects it.

State per object: ``[cx, cy, vx, vy]`` in video pixels and pixels per frame. Shapes: B objects;
means (B, 4); covariances (B, 4, 4); measurements (B, 2); measurement stds (B,).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_TRANSITION = torch.tensor(
    [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)  # (4, 4): position += velocity, one frame
_OBSERVE = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])  # (2, 4): centre only
_ACCEL_GAIN = torch.tensor([[0.5, 0.0], [0.0, 0.5], [1.0, 0.0], [0.0, 1.0]])  # (4, 2)


@dataclass
class KalmanState:
    """Centres and velocities of B objects with their uncertainty."""

    mean: Tensor  # (B, 4) cx, cy, vx, vy
    covariance: Tensor  # (B, 4, 4)

    @classmethod
    def start(cls, centres_xy: Tensor, position_std: Tensor, velocity_std: Tensor) -> KalmanState:
        """Objects seen at ``centres_xy`` (B, 2), at rest, with stds (B,) of position and
        velocity."""
        if centres_xy.ndim != 2 or centres_xy.shape[1] != 2:
            raise ValueError(f"centres_xy must have shape (B, 2), got {tuple(centres_xy.shape)}")
        if not torch.isfinite(centres_xy).all():
            raise ValueError("centres_xy must be finite")
        centres_xy = centres_xy.float()
        mean = torch.cat([centres_xy, torch.zeros_like(centres_xy)], dim=1)  # (B, 4)
        variances = (
            torch.stack([position_std, position_std, velocity_std, velocity_std], dim=1).float()
            ** 2
        )  # (B, 4)
        return cls(mean, torch.diag_embed(variances))

    @property
    def centres_xy(self) -> Tensor:
        """(B, 2) current centre estimates."""
        return self.mean[:, :2]

    def select(self, index: int) -> KalmanState:
        """Object ``index`` alone (B = 1)."""
        return KalmanState(self.mean[index : index + 1], self.covariance[index : index + 1])

    @staticmethod
    def cat(states: list[KalmanState]) -> KalmanState:
        """Stack per-object states into one batch."""
        return KalmanState(
            torch.cat([s.mean for s in states]), torch.cat([s.covariance for s in states])
        )


def kalman_predict(state: KalmanState, accel_std: Tensor) -> KalmanState:
    """One frame ahead under constant velocity; ``accel_std`` (B,) is the std of the unknown
    acceleration (px / frame^2), the process noise."""
    transition = _TRANSITION.to(state.mean)
    gain = _ACCEL_GAIN.to(state.mean)
    mean = state.mean @ transition.T  # (B, 4)
    noise = (gain @ gain.T)[None] * accel_std.float()[:, None, None] ** 2  # (B, 4, 4)
    covariance = transition @ state.covariance @ transition.T + noise
    return KalmanState(mean, covariance)


def kalman_update(state: KalmanState, measured_xy: Tensor, measurement_std: Tensor) -> KalmanState:
    """Correct with measured centres (B, 2) of stds (B,) px; a NaN row leaves its object as
    predicted (nothing measured)."""
    observe = _OBSERVE.to(state.mean)
    measured = ~torch.isnan(measured_xy).any(dim=1)  # (B,)
    innovation = torch.nan_to_num(measured_xy.float()) - state.mean @ observe.T  # (B, 2)
    noise = torch.eye(2, dtype=state.mean.dtype) * measurement_std.float()[:, None, None] ** 2
    innovation_cov = observe @ state.covariance @ observe.T + noise  # (B, 2, 2)
    gain = state.covariance @ observe.T @ torch.linalg.inv(innovation_cov)  # (B, 4, 2)
    mean = state.mean + (gain @ innovation[:, :, None])[:, :, 0]
    covariance = (torch.eye(4, dtype=state.mean.dtype) - gain @ observe) @ state.covariance
    keep = measured[:, None]
    return KalmanState(
        torch.where(keep, mean, state.mean),
        torch.where(keep[:, :, None], covariance, state.covariance),
    )
