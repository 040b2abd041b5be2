"""The constant-velocity Kalman filter on hand-computed values."""

import math

import pytest
import torch

from sam2_enhanced.modeling.kalman import KalmanState, kalman_predict, kalman_update


def test_predict_moves_by_the_velocity_and_grows_the_uncertainty():
    state = KalmanState(torch.tensor([[10.0, 20.0, 2.0, -1.0]]), torch.eye(4)[None])
    predicted = kalman_predict(state, torch.tensor([0.0]))
    assert predicted.mean[0].tolist() == [12.0, 19.0, 2.0, -1.0]
    # F P F^T with P = I: position variance 1 + 1 (velocity), covariance with velocity 1
    assert predicted.covariance[0, 0, 0] == pytest.approx(2.0)
    assert predicted.covariance[0, 0, 2] == pytest.approx(1.0)
    noisy = kalman_predict(state, torch.tensor([2.0]))
    # acceleration noise G G^T q^2: position 0.25 * 4 = 1 more, velocity 1 * 4 = 4 more
    assert noisy.covariance[0, 0, 0] == pytest.approx(3.0)
    assert noisy.covariance[0, 2, 2] == pytest.approx(5.0)


def test_update_on_hand_computed_values():
    """P = diag(4, 4, 1, 1), R = 4: gain 0.5 on position, covariance with velocity 0."""
    state = KalmanState(
        torch.tensor([[0.0, 0.0, 0.0, 0.0]]), torch.diag(torch.tensor([4.0, 4.0, 1.0, 1.0]))[None]
    )
    updated = kalman_update(state, torch.tensor([[2.0, -4.0]]), torch.tensor([2.0]))
    assert updated.mean[0].tolist() == pytest.approx([1.0, -2.0, 0.0, 0.0])
    assert updated.covariance[0, 0, 0] == pytest.approx(2.0)
    assert updated.covariance[0, 2, 2] == pytest.approx(1.0)


def test_a_steady_mover_is_followed_with_its_velocity():
    state = KalmanState.start(torch.tensor([[0.0, 0.0]]), torch.tensor([1.0]), torch.tensor([1.0]))
    for t in range(1, 30):
        state = kalman_predict(state, torch.tensor([0.1]))
        state = kalman_update(state, torch.tensor([[3.0 * t, 1.0 * t]]), torch.tensor([1.0]))
    assert state.mean[0, 2:].tolist() == pytest.approx([3.0, 1.0], abs=0.05)
    assert kalman_predict(state, torch.tensor([0.1])).centres_xy[0].tolist() == pytest.approx(
        [90.0, 30.0], abs=0.3
    )


def test_a_nan_measurement_leaves_the_prediction_and_rows_are_independent():
    state = KalmanState.start(
        torch.tensor([[5.0, 5.0], [50.0, 50.0]]), torch.tensor([1.0, 1.0]), torch.ones(2)
    )
    measured = torch.tensor([[math.nan, math.nan], [52.0, 50.0]])
    updated = kalman_update(state, measured, torch.ones(2))
    torch.testing.assert_close(updated.mean[0], state.mean[0])
    torch.testing.assert_close(updated.covariance[0], state.covariance[0])
    alone = kalman_update(state.select(1), measured[1:], torch.ones(1))
    torch.testing.assert_close(updated.mean[1:], alone.mean)
    assert KalmanState.cat([state.select(0), state.select(1)]).mean.shape == (2, 4)


@pytest.mark.parametrize(
    "centres", [torch.zeros(2), torch.zeros(1, 3), torch.tensor([[math.inf, 0.0]])]
)
def test_start_rejects_bad_centres(centres):
    with pytest.raises(ValueError):
        KalmanState.start(centres, torch.ones(1), torch.ones(1))
