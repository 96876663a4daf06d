"""Decoders: output spikes or membranes of a spiking network -> actions."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

TieBreak = Literal["random", "first"]


def spike_count_vote(
    counts: Tensor,
    num_actions: int,
    tie: TieBreak = "random",
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Spike-count vote between equal action populations (Haşegan et al. 2022).

    ``counts [..., num_actions * k]``: spikes of each output neuron in the decision window;
    neurons ``a*k .. (a+1)*k - 1`` vote for action ``a``. Returns ``(actions [...] long,
    undecided [...] bool)``; undecided = a tie for the most spikes, silence included (the
    paper's "unknown move"). On a tie, ``tie="random"`` draws uniformly among the tied
    actions with ``generator``; ``tie="first"`` takes the lowest tied index.
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
        noise = torch.rand(tied.shape, generator=generator, device=generator.device if generator else None)
        return torch.where(tied, noise.to(counts.device), -1.0).argmax(-1), undecided
    raise ValueError(f"tie must be 'random' or 'first', got {tie!r}")
