"""Batched policies over flat parameters ``[P, D]``: encoder -> network -> decoder.

A policy acts for ``P`` parameter vectors (population members) on ``B`` environments each at
once: observations ``[P, B, obs_dim]`` -> :class:`PolicyOutput` with actions ``[P, B]``.
Policies that carry network state from one decision to the next (a recurrent spiking
network) return it from ``start`` and ``act``; stateless ones pass ``None`` through. Every
policy exposes the same verbs, so a learning rule (e.g. an evolution strategy) trains any of
them without knowing which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

import nir
import torch
from torch import Tensor

from neurorl.core.decoders import TieBreak, spike_count_vote
from neurorl.core.encoders import two_neuron
from neurorl.core.lif import LIFParameters
from neurorl.errors import NotExportableError
from neurorl.nets.spiking_mlp import SpikingMLP, init_parameters, relu_mlp


class PolicyOutput(NamedTuple):
    actions: Tensor  # [P, B] long
    undecided: Tensor  # [P, B] bool: a tie or silence (spiking vote only)
    spikes: Tensor  # [P, B] spikes of the whole network in this decision (0 for a ReLU network)
    recorded: Tensor | None = None  # [T, P, B, N] every time step's spikes, where recorded


class BatchedPolicy(Protocol):
    """What a learning rule needs from a policy (see the module docstring)."""

    num_parameters: int

    def initial_parameters(self, generator: torch.Generator) -> Tensor:
        """A starting parameter vector ``[D]`` (CPU)."""
        ...

    def start(self, params: Tensor, batch: int) -> Any:
        """The network state at the start of ``batch`` episodes per member (None if stateless)."""
        ...

    def act(
        self, obs: Tensor, params: Tensor, state: Any, generator: torch.Generator
    ) -> tuple[PolicyOutput, Any]:
        """One decision for every member and environment."""
        ...

    def select(self, state: Any, members: Tensor) -> Any:
        """The state of some members only (``members``: indices into the member dim)."""
        ...

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        """One parameter vector ``[D]`` as a NIR graph; :class:`NotExportableError` if none."""
        ...


class StatelessPolicy:
    """``start`` and ``select`` of a policy whose network starts from rest at every decision."""

    def start(self, params: Tensor, batch: int) -> None:
        return None

    def select(self, state: None, members: Tensor) -> None:
        return None


@dataclass(frozen=True)
class SpikingVotePolicy(StatelessPolicy):
    """Two-neuron encoded observation as constant current -> LIF MLP -> spike-count vote.

    ``input_gain`` scales the ON/OFF currents; the output layer has ``num_actions *
    neurons_per_action`` LIF neurons; the action is the population with most spikes in the
    ``net.steps`` steps of a decision (ties broken per ``tie``). The network starts from
    rest at every decision, so the policy is stateless.
    """

    net: SpikingMLP
    num_actions: int
    input_gain: float = 1.0
    tie: TieBreak = "random"

    @property
    def num_parameters(self) -> int:
        return self.net.num_parameters

    def initial_parameters(self, generator: torch.Generator) -> Tensor:
        return init_parameters(self.net.sizes, 1, generator, "cpu")[0]

    def act(
        self, obs: Tensor, params: Tensor, state: None, generator: torch.Generator
    ) -> tuple[PolicyOutput, None]:
        counts, spikes = self.net.forward(two_neuron(obs) * self.input_gain, params)
        actions, undecided = spike_count_vote(counts, self.num_actions, self.tie, generator)
        return PolicyOutput(actions, undecided, spikes), None

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        from neurorl.export.nir import to_nir

        return to_nir(self.net, params.cpu())


@dataclass(frozen=True)
class ReluArgmaxPolicy(StatelessPolicy):
    """The ANN baseline: the same two-neuron input and layer sizes, ReLU units, argmax action."""

    sizes: tuple[int, ...]
    input_gain: float = 1.0

    @property
    def num_parameters(self) -> int:
        return SpikingMLP(self.sizes).num_parameters

    def initial_parameters(self, generator: torch.Generator) -> Tensor:
        return init_parameters(self.sizes, 1, generator, "cpu")[0]

    def act(
        self, obs: Tensor, params: Tensor, state: None, generator: torch.Generator
    ) -> tuple[PolicyOutput, None]:
        logits = relu_mlp(two_neuron(obs) * self.input_gain, self.sizes, params)
        zeros = torch.zeros(logits.shape[:2], device=logits.device)
        return PolicyOutput(logits.argmax(-1), zeros.bool(), zeros), None

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        raise NotExportableError("a ReLU network has no spiking policy to export")


@dataclass(frozen=True)
class MLPPolicyConfig:
    """A feed-forward policy on the two-neuron code: LIF layers with a spike-count vote
    (``kind="spiking"``: ``steps`` steps of ``dt`` per decision, membrane decay ``beta`` per
    step, unit-free threshold) or the same layers as ReLU units with an argmax (``"relu"``)."""

    kind: Literal["spiking", "relu"] = "spiking"
    hidden: int = 16
    hidden_layers: int = 1
    neurons_per_action: int = 4
    steps: int = 8
    beta: float = 0.8
    threshold: float = 1.0
    reset: Literal["soft", "hard"] = "hard"  # to 0: exact in NIR peers (soft is not in NIR)
    input_gain: float = 4.0
    tie: TieBreak = "random"

    def __post_init__(self) -> None:
        for name in ("hidden", "neurons_per_action", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"net.{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_layers < 0:
            raise ValueError(f"net.hidden_layers must be >= 0, got {self.hidden_layers}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(
                f"net.beta (membrane decay per step) must be in [0, 1], got {self.beta}"
            )
        if self.threshold <= 0:
            raise ValueError(f"net.threshold must be > 0, got {self.threshold}")

    def build(
        self, obs_dim: int, num_actions: int, seed: int = 0, device: str = "cpu"
    ) -> SpikingVotePolicy | ReluArgmaxPolicy:
        """The policy for an env's sizes (``seed`` and ``device`` are not needed here)."""
        per_action = self.neurons_per_action if self.kind == "spiking" else 1
        sizes = (2 * obs_dim, *[self.hidden] * self.hidden_layers, num_actions * per_action)
        if self.kind == "relu":
            return ReluArgmaxPolicy(sizes, self.input_gain)
        neuron = LIFParameters(beta=self.beta, threshold=self.threshold, reset=self.reset)
        net = SpikingMLP(sizes, neuron, self.steps)
        return SpikingVotePolicy(net, num_actions, self.input_gain, self.tie)
