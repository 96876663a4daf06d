"""Izhikevich (2003) neurons in discrete time, as a pure step function.

"Simple model of spiking neurons", IEEE Trans. Neural Netw. 14(6):1569-1572. With ``v`` the
membrane potential (mV), ``u`` the recovery variable (mV) and ``I`` the input (mV/ms; the paper's
dimensionless current, which enters ``dv/dt`` directly), time in ms::

    dv/dt = 0.04 v^2 + 5 v + 140 - u + I
    du/dt = a (b v - u)
    if v >= 30 mV:  v <- c,  u <- u + d

Integrated here by forward Euler with step ``dt`` (ms), both updates from the previous state::

    v[t] = v[t-1] + dt (0.04 v[t-1]^2 + 5 v[t-1] + 140 - u[t-1] + I[t])
    u[t] = u[t-1] + dt a (b v[t-1] - u[t-1])
    z[t] = H(v[t] - threshold)                    (strictly above threshold, as in core/lif.py)
    v[t] <- v[t] - z[t] (v[t] - c),  u[t] <- u[t] + d z[t]      reset in the spiking step

Shapes: ``[population, batch, neurons]``; every parameter may be a float or a tensor that
broadcasts against the state (e.g. ``[P, 1, 1]`` for one neuron type per population member).
Forward Euler needs small steps: ``dt <= 0.5`` ms for regular spiking, ``<= 0.1`` ms for the
fast classes to keep their rates within a few percent of the continuous model.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from neurorl.core.lif import Scalar, apply_reset, run_sequence
from neurorl.core.surrogate import Surrogate

V_INIT_MV = -65.0
"""Initial membrane potential of the paper's simulations; ``u`` starts at ``b * V_INIT_MV``."""


class IzhikevichParameters(NamedTuple):
    """a: recovery rate (1/ms); b: sensitivity of u to v (1); c: reset potential (mV);
    d: recovery increment per spike (mV); threshold: spike cut-off (mV); dt_ms: Euler step (ms);
    surrogate: acts on ``v - threshold`` in mV, so its slope is per mV.
    The defaults are regular spiking (RS)."""

    a: Scalar = 0.02
    b: Scalar = 0.2
    c: Scalar = -65.0
    d: Scalar = 8.0
    threshold: Scalar = 30.0
    dt_ms: float = 0.5
    surrogate: Surrogate = Surrogate()


# Cortical classes of Izhikevich (2003), Fig. 2; change the step with ``._replace(dt_ms=...)``.
REGULAR_SPIKING = IzhikevichParameters(a=0.02, b=0.2, c=-65.0, d=8.0)
INTRINSICALLY_BURSTING = IzhikevichParameters(a=0.02, b=0.2, c=-55.0, d=4.0)
CHATTERING = IzhikevichParameters(a=0.02, b=0.2, c=-50.0, d=2.0)
FAST_SPIKING = IzhikevichParameters(a=0.1, b=0.2, c=-65.0, d=2.0)


class IzhikevichState(NamedTuple):
    v: Tensor  # membrane potential (mV)
    u: Tensor  # recovery variable (mV)


def izhikevich_step(
    x: Tensor, state: IzhikevichState | None, params: IzhikevichParameters
) -> tuple[Tensor, IzhikevichState]:
    """One Euler step of ``dt_ms``: ``(input I [mV/ms], state, params) -> (spikes, new state)``.

    State None = the paper's initial condition ``v = -65 mV, u = b v`` (near, not at, rest).
    """
    if state is None:
        v0 = torch.full_like(x, V_INIT_MV)
        state = IzhikevichState(v0, params.b * v0)
    v_prev, u_prev = state
    dt = params.dt_ms
    v = v_prev + dt * (0.04 * v_prev * v_prev + 5.0 * v_prev + 140.0 - u_prev + x)
    u = u_prev + dt * params.a * (params.b * v_prev - u_prev)
    z = params.surrogate(v - params.threshold)
    v = apply_reset(v, z, params.threshold, "hard", params.c)
    return z, IzhikevichState(v, u + params.d * z)


class Izhikevich(nn.Module):
    """Thin module over :func:`izhikevich_step`; ``forward(I [T, ...])`` runs a whole sequence."""

    def __init__(self, params: IzhikevichParameters = REGULAR_SPIKING) -> None:
        super().__init__()
        self.params = params

    def forward(
        self, xs: Tensor, state: IzhikevichState | None = None
    ) -> tuple[Tensor, IzhikevichState]:
        return run_sequence(izhikevich_step, xs, state, self.params)
