"""Homeostasis of plastic weights during STDP-RL (Haşegan et al. 2022), as pure functions.

Weights are ``[P, n_pre, n_post]`` (P independent networks) with a boolean synapse mask
``[n_pre, n_post]`` (or ``[P, n_pre, n_post]``); entries outside the mask are never changed.

The original (``neurosim/sim.py`` of NathanKlineInstitute/netpyne-STDP, ``config.json``) runs,
counted in environment steps of 50 ms:

* every 25 steps: :func:`normalize_incoming` of every plastic projection, to the target
  ``initial mean * gain`` (each cell's incoming mean cached at the first step);
* at every reward: :func:`balance_reward` scales each presynaptic cell's reward, clipped to
  [0.1, 2];
* every 75 steps, on the mean rate over the last 500 steps (25 s) of each group (EA; the LEFT
  and RIGHT halves of EM separately): :func:`gain_control` of that group's ``gain`` with
  rate_of_change 1e-4 and tolerance 0.01 Hz, targets EA 5.5 Hz and EM 6 Hz.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _masked_mean(weights: Tensor, mask: Tensor, dim: int) -> Tensor:
    mask = mask.to(weights)
    return (weights * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def mean_incoming(weights: Tensor, mask: Tensor) -> Tensor:
    """Mean incoming plastic weight of each postsynaptic cell ``[P, n_post]`` (0 if none)."""
    return _masked_mean(weights, mask, -2)


def mean_outgoing(weights: Tensor, mask: Tensor) -> Tensor:
    """Mean outgoing plastic weight of each presynaptic cell ``[P, n_pre]`` (0 if none)."""
    return _masked_mean(weights, mask, -1)


def normalize_incoming(weights: Tensor, mask: Tensor, target_mean: Tensor | float) -> Tensor:
    """Rescale each postsynaptic cell's incoming weights to the mean ``target_mean``
    (broadcastable to ``[P, n_post]``): ``w_ij <- w_ij * target_j / mean_i(w_ij)``.

    Cells without synapses or with all-zero weights are left as they are. No clipping: the
    original clips only at the next reward.
    """
    current = mean_incoming(weights, mask)
    target = torch.as_tensor(target_mean, dtype=weights.dtype, device=weights.device)
    scale = torch.where(current > 0, target / current, torch.ones_like(current))
    return torch.where(mask.bool(), weights * scale.unsqueeze(-2), weights)


def balance_reward(
    weights: Tensor,
    mask: Tensor,
    initial_mean: Tensor,
    reward: Tensor,
    clip: tuple[float, float] = (0.1, 2.0),
    homeostatic: bool = False,
) -> Tensor:
    """Per-presynaptic reward scale ``[P, B, n_pre]`` from each cell's mean outgoing weight
    now (``m``) and at the start (``initial_mean [P, n_pre]``, :func:`mean_outgoing`).

    As coded in the original (sim.py:650-667), with the sign of the environment's overall
    reward ``reward [P, B]``: ``m / m0`` for a reward and ``m0 / m`` for a punishment, clipped
    to ``clip``: cells whose outputs grew gain more from rewards and lose less to punishments.
    Its comment intends the opposite (grown cells rewarded less, punished more):
    ``homeostatic=True`` implements that. Cells without synapses get 1.
    """
    grown = mean_outgoing(weights, mask) / initial_mean.to(weights)
    positive = (reward > 0).unsqueeze(-1)
    if homeostatic:
        positive = ~positive
    scale = torch.where(positive, grown.unsqueeze(1), 1.0 / grown.unsqueeze(1))
    return torch.nan_to_num(scale.clamp(*clip), nan=1.0)


def gain_control(
    gain: Tensor,
    rate_hz: Tensor,
    target_hz: Tensor | float,
    rate_of_change: float = 1e-4,
    tolerance_hz: float = 0.01,
) -> Tensor:
    """One step of slow gain control (sim.py:712-738): ``gain * (1 + rate_of_change)`` where
    ``rate_hz < target_hz - tolerance_hz``, ``gain * (1 - rate_of_change)`` where
    ``rate_hz > target_hz + tolerance_hz``, unchanged otherwise (all broadcast together).
    In the original the gain multiplies the target of :func:`normalize_incoming`."""
    if not 0 <= rate_of_change < 1:
        raise ValueError(f"gain_control.rate_of_change must be in [0, 1), got {rate_of_change}")
    if tolerance_hz < 0:
        raise ValueError(f"gain_control.tolerance_hz must be >= 0, got {tolerance_hz}")
    up = (rate_hz < target_hz - tolerance_hz).to(gain)
    down = (rate_hz > target_hz + tolerance_hz).to(gain)
    return gain * (1 + rate_of_change * (up - down))
