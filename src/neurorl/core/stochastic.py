"""Stochastic (escape-noise, Bernoulli) spiking neurons, as a pure step function.

The membrane is the LIF's of core/lif.py; the spike is a Bernoulli draw whose probability is
an escape function of the distance to threshold (GLM neurons: Jang, Simeone, Gardner & Gruning
2019, "An introduction to probabilistic spiking neural networks"; spiking coagents: Aenugu et
al. 2019, "Reinforcement learning with a network of spiking agents", NeurIPS Neuro-AI)::

    v[t] = beta * v[t-1] + x[t]
    s[t] = (v[t] - threshold) / temperature
    p[t] = sigmoid(s[t])                       escape="sigmoid" (logistic GLM)
    p[t] = 1 - exp(-exp(s[t]))                 escape="exponential"
    z[t] ~ Bernoulli(p[t])                     z = 1 iff U < p, U ~ Uniform[0, 1) from a Generator
    v[t] <- soft or hard reset of core/lif.py  (in the spiking step)

"exponential" is Gerstner & Kistler's (2002, ch. 5.3) exponential escape rate
``rho = rho0 exp((v - threshold) / temperature)`` turned into the probability of at least
one escape in the step, with ``rho0 dt = 1``: ``p ~ exp(s)`` far below threshold, and it
saturates smoothly to 1 above (unlike ``min(1, exp(s))``, it keeps a gradient and
``log(1 - p) = -exp(s)`` stays finite).

Spikes carry no gradient; ``p`` does, and it is returned in the state so that a REINFORCE
learner can form ``log P(z) = z log p + (1 - z) log(1 - p)``
(e.g. ``torch.distributions.Bernoulli(probs=state.p).log_prob(z)``).
"""

from __future__ import annotations

from functools import partial
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from neurorl.core.lif import Reset, Scalar, apply_reset, run_sequence

Escape = Literal["sigmoid", "exponential"]


class StochasticParameters(NamedTuple):
    """beta: membrane decay per step (1 - dt/tau_mem); threshold, v_reset and temperature
    (the width of the escape noise) in the membrane's units; escape: see the module docstring."""

    beta: Scalar = 0.9
    threshold: Scalar = 1.0
    temperature: Scalar = 0.1
    escape: Escape = "sigmoid"
    reset: Reset = "soft"
    v_reset: Scalar = 0.0


class StochasticState(NamedTuple):
    v: Tensor  # membrane after the reset
    p: Tensor  # spike probability of the step that produced this state (before the reset)


def spike_probability(v: Tensor, params: StochasticParameters) -> Tensor:
    """Escape function ``p = f((v - threshold) / temperature)``, differentiable in ``v``."""
    s = (v - params.threshold) / params.temperature
    if params.escape == "sigmoid":
        return torch.sigmoid(s)
    if params.escape == "exponential":
        # p = 1 exactly for s >= 30 (exp(-e^30) underflows), where the clamp only keeps the
        # backward pass from forming inf * 0 = nan; the true gradient there is below 1e-300.
        return -torch.expm1(-torch.exp(s.clamp(max=30.0)))
    raise ValueError(f"escape must be 'sigmoid' or 'exponential', got {params.escape!r}")


def stochastic_step(
    x: Tensor,
    state: StochasticState | None,
    params: StochasticParameters,
    generator: torch.Generator | None = None,
    uniforms: Tensor | None = None,
) -> tuple[Tensor, StochasticState]:
    """One step: ``(input, state, params) -> (spikes, new state)``; state None = rest (v = 0).

    The uniform draws, one per element, are ``uniforms`` where given (e.g. drawn per row from
    streams of their own), else drawn from ``generator`` (torch's global one if None).
    """
    v_prev = torch.zeros_like(x) if state is None else state.v
    v = params.beta * v_prev + x
    p = spike_probability(v, params)
    if uniforms is None:
        uniforms = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
    z = (uniforms < p).to(p.dtype)
    return z, StochasticState(apply_reset(v, z, params.threshold, params.reset, params.v_reset), p)


class Stochastic(nn.Module):
    """Thin module over :func:`stochastic_step`; ``forward(x [T, ...])`` runs a whole sequence.

    The returned state holds the last step's ``p`` only: a learner that needs every step's
    probability calls :func:`stochastic_step` in its own loop.
    """

    def __init__(
        self, params: StochasticParameters, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.params = params
        self.generator = generator

    def forward(
        self, xs: Tensor, state: StochasticState | None = None
    ) -> tuple[Tensor, StochasticState]:
        step = partial(stochastic_step, generator=self.generator)
        return run_sequence(step, xs, state, self.params)
