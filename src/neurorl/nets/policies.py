"""Policies over flat parameters ``[P, D]``: encoder -> network -> decoder, batched over P.

A policy maps observations ``[P, B, obs_dim]`` to :class:`PolicyOutput` with actions
``[P, B]``; the spiking and the ReLU policy share one parameter layout, so one learning rule
(e.g. an evolution strategy) trains either without knowing which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from neurorl.core.decoders import TieBreak, spike_count_vote
from neurorl.core.encoders import two_neuron
from neurorl.nets.spiking_mlp import SpikingMLP, relu_mlp


class PolicyOutput(NamedTuple):
    actions: Tensor  # [P, B] long
    undecided: Tensor  # [P, B] bool: a tie or silence (spiking vote only)
    spikes: Tensor  # [P, B] spikes of all layers in this decision (0 for a ReLU network)


@dataclass(frozen=True)
class SpikingVotePolicy:
    """Two-neuron encoded observation as constant current -> LIF MLP -> spike-count vote.

    ``input_gain`` scales the ON/OFF currents; the output layer has ``num_actions *
    neurons_per_action`` LIF neurons; the action is the population with most spikes in the
    ``net.steps`` steps of a decision (ties broken per ``tie``).
    """

    net: SpikingMLP
    num_actions: int
    input_gain: float = 1.0
    tie: TieBreak = "random"

    def __call__(self, obs: Tensor, params: Tensor, generator: torch.Generator) -> PolicyOutput:
        counts, spikes = self.net.forward(two_neuron(obs) * self.input_gain, params)
        actions, undecided = spike_count_vote(counts, self.num_actions, self.tie, generator)
        return PolicyOutput(actions, undecided, spikes)


@dataclass(frozen=True)
class ReluArgmaxPolicy:
    """The ANN baseline: the same two-neuron input and layer sizes, ReLU units, argmax action."""

    sizes: tuple[int, ...]
    input_gain: float = 1.0

    @property
    def num_parameters(self) -> int:
        return SpikingMLP(self.sizes).num_parameters

    def __call__(self, obs: Tensor, params: Tensor, generator: torch.Generator) -> PolicyOutput:
        logits = relu_mlp(two_neuron(obs) * self.input_gain, self.sizes, params)
        zeros = torch.zeros(logits.shape[:2], device=logits.device)
        return PolicyOutput(logits.argmax(-1), zeros.bool(), zeros)
