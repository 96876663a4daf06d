"""Reparameterised stochastic spiking networks (Aenugu 2020, approach 2).

An escape-noise LIF unit spikes with ``p = sigmoid((v - threshold) / temperature)`` (the
neuron of ``core/stochastic.py``). Its Bernoulli spike ``z ~ B(p)`` is replaced by the
binary-Concrete (Gumbel-sigmoid) sample of Maddison, Mnih & Teh (2017) and Jang, Gu & Poole
(2017)::

    L = log U - log(1 - U),  U ~ Uniform(0, 1)
    z = sigmoid((logit p + L) / tau)          tau: the relaxation temperature

which tends to the Bernoulli sample as ``tau -> 0`` and is differentiable in the weights;
``straight_through`` takes the hard spike ``1[z > 1/2]`` forward and the relaxed gradient
backward (Bengio et al. 2013). The whole network (hidden spiking layers run for ``T``
steps, a linear readout of the last layer's spike rates into action logits) is trained end
to end by the actor-critic policy gradient ``-delta * log pi(a | s)`` through the relaxed
spikes. ``tau`` follows an exponential schedule from ``tau_start`` to ``tau_end``.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from neurorl.core.lif import apply_reset
from neurorl.core.stochastic import StochasticParameters


def concrete_spikes(
    logits: Tensor, tau: float, straight_through: bool, generator: torch.Generator
) -> Tensor:
    """Binary-Concrete relaxed spikes in (0, 1) (hard 0/1 forward if ``straight_through``)."""
    if tau <= 0:
        raise ValueError(f"the relaxation temperature must be > 0, got {tau}")
    uniform = torch.rand(logits.shape, generator=generator).clamp(1e-6, 1 - 1e-6)
    relaxed = torch.sigmoid((logits + torch.log(uniform) - torch.log1p(-uniform)) / tau)
    if not straight_through:
        return relaxed
    hard = (relaxed > 0.5).float()
    return hard + relaxed - relaxed.detach()


def temperature_at(progress: float, start: float, end: float) -> float:
    """Exponential schedule: ``start`` at progress 0, ``end`` at progress >= 1."""
    return start * (end / start) ** min(max(progress, 0.0), 1.0)


class RelaxedSpikingActor(nn.Module):
    """Input code ``[B, in]`` -> relaxed escape-noise LIF layers (``T`` steps, the code as a
    constant current) -> mean spike rates -> linear readout -> action logits ``[B, A]``."""

    def __init__(
        self,
        inputs: int,
        hidden: tuple[int, ...],
        actions: int,
        steps: int,
        neuron: StochasticParameters,
        straight_through: bool,
    ) -> None:
        super().__init__()
        sizes = [inputs, *hidden]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in itertools.pairwise(sizes))
        self.readout = nn.Linear(sizes[-1], actions)
        self.steps, self.neuron, self.straight_through = steps, neuron, straight_through
        self.tau = 1.0

    def forward(self, code: Tensor, generator: torch.Generator) -> tuple[Tensor, list[Tensor]]:
        """Logits ``[B, A]`` and each layer's mean spike rate ``[B, units]``."""
        params = self.neuron
        x = [code] * self.steps
        rates = []
        for layer in self.layers:
            currents = [layer(x_t) for x_t in x]
            v = torch.zeros_like(currents[0])
            spikes = []
            for current in currents:
                v = params.beta * v + current
                logits = (v - params.threshold) / params.temperature
                z = concrete_spikes(logits, self.tau, self.straight_through, generator)
                v = apply_reset(v, z, params.threshold, params.reset, params.v_reset)
                spikes.append(z)
            x = spikes
            rates.append(torch.stack(spikes).mean(0))
        return self.readout(rates[-1]), rates
