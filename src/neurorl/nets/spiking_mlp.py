"""A population-batched spiking multi-layer perceptron of LIF layers.

Weights of ``P`` networks are one tensor per layer, ``W [P, in, out]`` and ``b [P, 1, out]``;
inputs and states are ``[P, B, neurons]`` (B = parallel environments). A population of one
is the ordinary case. Every layer, the output included, is a LIF layer, so the policy is
fully spiking and exports to NIR as Affine -> LIF -> ... -> Affine -> LIF.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from neurorl.core.lif import LIFParameters, LIFState, lif_step

Layer = tuple[Tensor, Tensor]


def count_parameters(sizes: tuple[int, ...]) -> int:
    """Weights and biases of a dense MLP with layer sizes ``sizes``."""
    return sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(sizes))


def unflatten_layers(sizes: tuple[int, ...], flat: Tensor) -> list[Layer]:
    """Views ``[(W [P, in, out], b [P, 1, out]), ...]`` into flat parameters ``[P, D]``."""
    layers, offset = [], 0
    for n_in, n_out in itertools.pairwise(sizes):
        weight = flat[:, offset : offset + n_in * n_out].view(-1, n_in, n_out)
        offset += n_in * n_out
        bias = flat[:, offset : offset + n_out].view(-1, 1, n_out)
        offset += n_out
        layers.append((weight, bias))
    return layers


def init_parameters(
    sizes: tuple[int, ...], population: int, generator: torch.Generator | None, device: str
) -> Tensor:
    """Flat parameters ``[P, D]``: weights ~ N(0, 1/fan_in), biases 0."""
    flat = torch.zeros(population, count_parameters(sizes))
    for (weight, _), n_in in zip(unflatten_layers(sizes, flat), sizes[:-1], strict=True):
        weight.copy_(torch.randn(weight.shape, generator=generator) / math.sqrt(n_in))
    return flat.to(device)


def relu_mlp(x: Tensor, sizes: tuple[int, ...], flat: Tensor) -> Tensor:
    """The same layout as a ReLU network (linear output): ``[P, B, in] -> [P, B, out]``."""
    layers = unflatten_layers(sizes, flat)
    for index, (weight, bias) in enumerate(layers):
        x = torch.baddbmm(bias, x, weight)
        if index < len(layers) - 1:
            x = torch.relu(x)
    return x


@dataclass(frozen=True)
class SpikingMLP:
    """sizes: (inputs, hidden..., outputs); steps: LIF time steps per decision (dt each)."""

    sizes: tuple[int, ...]
    neuron: LIFParameters = LIFParameters()
    steps: int = 8

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"layer sizes must be >= 1 and at least two, got {self.sizes}")
        if self.steps < 1:
            raise ValueError(f"steps per decision must be >= 1, got {self.steps}")

    @property
    def num_parameters(self) -> int:
        return count_parameters(self.sizes)

    def init(
        self, population: int, generator: torch.Generator | None = None, device: str = "cpu"
    ) -> Tensor:
        return init_parameters(self.sizes, population, generator, device)

    def unflatten(self, flat: Tensor) -> list[Layer]:
        return unflatten_layers(self.sizes, flat)

    def forward(self, currents: Tensor, flat: Tensor) -> tuple[Tensor, Tensor]:
        """Drive the network with a constant input current for ``steps`` steps.

        ``currents [P, B, inputs]``, ``flat [P, D]`` -> ``(output spike counts [P, B, outputs],
        total spikes of all LIF layers [P, B])``. The first affine map is computed once
        (the input is constant over the decision window).
        """
        layers = self.unflatten(flat)
        first_weight, first_bias = layers[0]
        drive = torch.baddbmm(first_bias, currents, first_weight)
        states: list[LIFState | None] = [None] * len(layers)
        counts = torch.zeros(*currents.shape[:2], self.sizes[-1], device=currents.device)
        total_spikes = torch.zeros(currents.shape[:2], device=currents.device)
        for _ in range(self.steps):
            x = drive
            for index, (weight, bias) in enumerate(layers):
                if index:
                    x = torch.baddbmm(bias, x, weight)
                x, states[index] = lif_step(x, states[index], self.neuron)
                total_spikes += x.sum(-1)
            counts += x
        return counts, total_spikes
