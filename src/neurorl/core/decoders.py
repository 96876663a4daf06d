"""Decoders: output spikes or membranes of a spiking network -> actions.

All decoders act on the last dimension and keep leading ``[population, batch]`` dimensions;
a leading time dimension ``[T, ...]`` is reduced where stated.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

TieBreak = Literal["random", "first"]
Readout = Literal["last", "mean"]


def spike_count_vote(
    counts: Tensor,
    num_actions: int,
    tie: TieBreak = "random",
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
) -> tuple[Tensor, Tensor]:
    """Spike-count vote between equal action populations (Haşegan et al. 2022).

    ``counts [..., num_actions * k]``: spikes of each output neuron in the decision window;
    neurons ``a*k .. (a+1)*k - 1`` vote for action ``a``. Returns ``(actions [...] long,
    undecided [...] bool)``; undecided = a tie for the most spikes, silence included (the
    paper's "unknown move"). On a tie, ``tie="random"`` draws uniformly among the tied
    actions with ``generator`` (or one generator per index of the first dimension, e.g. per
    member of a batch of seeds: consecutive indices that share a generator draw as one
    ``generator`` would for them alone); ``tie="first"`` takes the lowest tied index. Raises
    ``ValueError`` when the neurons do not split into ``num_actions`` equal populations.
    """
    if counts.shape[-1] % num_actions:
        raise ValueError(
            f"{counts.shape[-1]} output neurons cannot be split into {num_actions} populations"
        )
    votes = counts.reshape(*counts.shape[:-1], num_actions, -1).sum(-1)
    best = votes.max(dim=-1, keepdim=True).values
    tied = votes == best
    undecided = tied.sum(-1) > 1
    if tie == "first":
        return tied.to(torch.uint8).argmax(-1), undecided
    if tie == "random":
        if isinstance(generator, Sequence):  # consecutive indices of one generator: one draw
            runs = [list(run) for _, run in itertools.groupby(generator, key=id)]
            shape = tied.shape[1:]
            noise = torch.cat([torch.rand(len(run), *shape, generator=run[0]) for run in runs])
        else:
            device = generator.device if generator is not None else None
            noise = torch.rand(tied.shape, generator=generator, device=device)
        return torch.where(tied, noise.to(counts.device), -1.0).argmax(-1), undecided
    raise ValueError(f"tie must be 'random' or 'first', got {tie!r}")


def membrane_readout(v: Tensor, mode: Readout = "last") -> Tensor:
    """Membrane of a non-spiking output layer ``[T, ..., n] -> [..., n]``.

    ``mode="last"``: the membrane at the last step (Akl et al. 2023: Q-values, or the TD3
    actor's pre-tanh output); ``mode="mean"``: its average over the T steps.
    """
    if mode == "last":
        return v[-1]
    if mode == "mean":
        return v.mean(0)
    raise ValueError(f"mode must be 'last' or 'mean', got {mode!r}")


def population_to_continuous(
    rates: Tensor, weights: Tensor, bias: Tensor, action_bound: float | Tensor = 1.0
) -> Tensor:
    """PopSAN decoder (Tang et al. 2020): population rates -> bounded continuous actions.

    ``rates [..., act_dim * k]`` (e.g. spike counts / T), neurons ``a*k .. (a+1)*k - 1``
    coding action ``a``; ``weights [act_dim, k]``, ``bias [act_dim]``. Returns ``[..., act_dim]``
    ``action_bound * tanh(sum_j weights[a, j] * rates[..., a*k + j] + bias[a])``, with
    ``action_bound`` a float or ``[act_dim]`` (e.g. the action space's ``high``).
    """
    act_dim, k = weights.shape[-2:]
    if rates.shape[-1] != act_dim * k:
        raise ValueError(f"{rates.shape[-1]} output neurons are not {act_dim} populations of {k}")
    drive = (rates.unflatten(-1, (act_dim, k)) * weights).sum(-1) + bias
    return action_bound * torch.tanh(drive)


class PopulationDecoder(nn.Module):
    """PopSAN's learnable decoder, :func:`population_to_continuous`, as a module.

    ``weight [act_dim, k]`` and ``bias [act_dim]`` start uniform in ``±1/sqrt(k)`` (PyTorch's
    default for PopSAN's grouped Conv1d), drawn with ``generator``; ``action_bound`` is a buffer.
    """

    def __init__(
        self,
        act_dim: int,
        neurons_per_action: int = 10,
        action_bound: float | Tensor = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(neurons_per_action)
        weight = torch.rand(act_dim, neurons_per_action, generator=generator)
        bias = torch.rand(act_dim, generator=generator)
        self.weight = nn.Parameter((2 * weight - 1) * bound)
        self.bias = nn.Parameter((2 * bias - 1) * bound)
        self.register_buffer("action_bound", torch.as_tensor(action_bound, dtype=torch.float32))

    def forward(self, rates: Tensor) -> Tensor:
        return population_to_continuous(rates, self.weight, self.bias, self.action_bound)
