"""Leaky integrate-and-fire neurons in discrete time, as pure step functions.

Shapes: every tensor is ``[population, batch, neurons]`` (or broadcastable to it); a
parameter may be a float (one value per layer) or a tensor (one value per neuron or per
population member).

LIF (one state variable, the membrane ``v``)::

    v[t] = beta * v[t-1] + x[t]                  beta = 1 - dt / tau_mem   (forward Euler)
    z[t] = H(v[t] - threshold)
    v[t] <- v[t] - z[t] * threshold              soft reset (reset by subtraction)
    v[t] <- (1 - z[t]) * v[t] + z[t] * v_reset   hard reset

The input ``x`` is the synaptic drive per step, i.e. ``R * I * dt / tau_mem`` of the
continuous equation ``tau_mem dv/dt = -v + R I`` with the resting potential at 0.

Current-based LIF (CubaLIF: synaptic current ``i`` and membrane ``v``; Akl et al. 2023,
Loihi's compartment model)::

    i[t] = alpha * i[t-1] + x[t]                 alpha = 1 - dt / tau_syn
    v[t] = beta * v[t-1] + i[t]
    z[t] = H(v[t] - threshold), then reset as above.

The reset is applied in the same step as the spike (Norse's convention; snnTorch's
``reset_delay=False``, which agrees as long as a soft reset leaves the membrane at or below
threshold: snnTorch 1.0 recomputes the reset from the previous membrane, so an input that
carries the membrane above twice the threshold spikes once there and twice here).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from neurorl.core.surrogate import Surrogate

Reset = Literal["soft", "hard"]
Scalar = float | Tensor


def decay_from_tau(tau_ms: Scalar, dt_ms: float) -> Scalar:
    """Forward-Euler decay factor per step, ``1 - dt / tau`` (the NIR peers' convention)."""
    if dt_ms <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt_ms}")
    if float(torch.as_tensor(tau_ms).min()) < dt_ms:
        raise ValueError(f"tau must be >= dt = {dt_ms} ms for a decay in [0, 1], got {tau_ms}")
    return 1.0 - dt_ms / tau_ms


def apply_reset(v: Tensor, z: Tensor, threshold: Scalar, reset: Reset, v_reset: Scalar) -> Tensor:
    """Reset the membrane of the neurons that spiked (``z == 1``)."""
    if reset == "soft":
        return v - z * threshold
    if reset == "hard":
        return v - z * (v - v_reset)
    raise ValueError(f"reset must be 'soft' or 'hard', got {reset!r}")


class LIFParameters(NamedTuple):
    """beta: membrane decay per step (1 - dt/tau_mem); threshold and v_reset in model units."""

    beta: Scalar = 0.9
    threshold: Scalar = 1.0
    reset: Reset = "soft"
    v_reset: Scalar = 0.0
    surrogate: Surrogate = Surrogate()


class LIFState(NamedTuple):
    v: Tensor


def lif_step(x: Tensor, state: LIFState | None, params: LIFParameters) -> tuple[Tensor, LIFState]:
    """One LIF step: ``(input, state, params) -> (spikes, new state)``; state None = rest."""
    v_prev = torch.zeros_like(x) if state is None else state.v
    v = params.beta * v_prev + x
    z = params.surrogate(v - params.threshold)
    return z, LIFState(apply_reset(v, z, params.threshold, params.reset, params.v_reset))


class CubaLIFParameters(NamedTuple):
    """alpha: synaptic-current decay per step (1 - dt/tau_syn); beta: membrane decay."""

    alpha: Scalar = 0.5
    beta: Scalar = 0.5
    threshold: Scalar = 1.0
    reset: Reset = "hard"
    v_reset: Scalar = 0.0
    surrogate: Surrogate = Surrogate()


class CubaLIFState(NamedTuple):
    i: Tensor
    v: Tensor


def cuba_lif_step(
    x: Tensor, state: CubaLIFState | None, params: CubaLIFParameters
) -> tuple[Tensor, CubaLIFState]:
    """One current-based LIF step: ``(input, state, params) -> (spikes, new state)``."""
    if state is None:
        state = CubaLIFState(torch.zeros_like(x), torch.zeros_like(x))
    i = params.alpha * state.i + x
    v = params.beta * state.v + i
    z = params.surrogate(v - params.threshold)
    return z, CubaLIFState(i, apply_reset(v, z, params.threshold, params.reset, params.v_reset))


def run_sequence(step, xs: Tensor, state, params) -> tuple[Tensor, object]:
    """Run ``step`` over a leading time dimension: ``xs [T, ...] -> spikes [T, ...]``.

    Iterates with ``unbind`` (not ``xs[t]``) so that backward stays linear in T.
    """
    spikes = []
    for x in xs.unbind(0):
        z, state = step(x, state, params)
        spikes.append(z)
    return torch.stack(spikes), state


class LIF(nn.Module):
    """Thin module over :func:`lif_step`; ``forward(x [T, ...])`` runs a whole sequence."""

    def __init__(self, params: LIFParameters = LIFParameters()) -> None:
        super().__init__()
        self.params = params

    def forward(self, xs: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        return run_sequence(lif_step, xs, state, self.params)


class CubaLIF(nn.Module):
    """Thin module over :func:`cuba_lif_step`; ``forward(x [T, ...])`` runs a whole sequence."""

    def __init__(self, params: CubaLIFParameters = CubaLIFParameters()) -> None:
        super().__init__()
        self.params = params

    def forward(self, xs: Tensor, state: CubaLIFState | None = None) -> tuple[Tensor, CubaLIFState]:
        return run_sequence(cuba_lif_step, xs, state, self.params)
