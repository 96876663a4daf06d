"""The paper network of Haşegan et al. 2022 as a batched policy over its plastic weights.

The parameters a learning rule sees are the plastic AMPA weights of the existing synapses,
flat ``[P, 1800]`` (ES->EA 1000, then EA->EM 800), or only the 800 EA->EM ones when
``evolve="ea_em"`` (the ES->EA weights then stay at their initial values). They are the
weights in mV (``scale="linear"``) or their logarithms, ``ln(w / 1 mV)`` (``scale="log"``: an
additive step is a multiplicative one, as in the paper's ES, and a weight never changes
sign). Either way the network uses them clipped to ``[0, MAX_WEIGHT_MV]``, the paper's STDP
bounds: an AMPA synapse stays excitatory. The network runs
one 50-ms window per decision and keeps its state from one decision to the next; the action
is the EM half (LEFT, RIGHT) with more spikes, a tie or silence being an unknown move.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import nir
import numpy as np
import torch
from torch import Tensor

from neurorl.core.decoders import TieBreak, spike_count_vote
from neurorl.errors import ConfigError, NotExportableError
from neurorl.nets.cartpole_network import (
    CartPoleNetwork,
    CartPoleNetworkConfig,
    CompileMode,
    NetworkState,
    PlasticWeights,
    build_network,
    initial_state,
    run_window,
    select_members,
    stack_networks,
)
from neurorl.nets.policies import PolicyOutput

MAX_WEIGHT_MV = 400.0  # the paper's bound on a plastic weight (STDP-RL clips to [0, 400])


def connectivity_stream(seed: int) -> torch.Generator:
    """The random stream that draws a network's connectivity and initial weights."""
    state = np.random.SeedSequence([seed, 0xC0]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


@dataclass(frozen=True)
class PaperNetworkPolicyConfig:
    """``connectivity_seed``: draws the connections and the initial plastic weights (None:
    the run's seed); ``evolve``: which plastic weights are parameters ("all" or "ea_em");
    ``compile``: run each time step compiled, on CPU as an AOTInductor package (any batch
    size; built once per machine in ~25 s, loaded from its cache in later processes), on
    other devices through ``torch.compile``; the same spikes as uncompiled."""

    network: CartPoleNetworkConfig = field(default_factory=CartPoleNetworkConfig)
    connectivity_seed: int | None = None
    evolve: Literal["all", "ea_em"] = "all"
    scale: Literal["linear", "log"] = "linear"
    tie: TieBreak = "random"
    compile: bool = False

    def build(
        self, obs_dim: int, num_actions: int, seed: int = 0, device: str = "cpu"
    ) -> PaperNetworkPolicy:
        if (obs_dim, num_actions) != (4, 2):
            raise ConfigError(
                "the paper network needs CartPole's 4 observations and 2 actions, "
                f"got {obs_dim} and {num_actions}"
            )
        connectivity = seed if self.connectivity_seed is None else self.connectivity_seed
        generator = connectivity_stream(connectivity)
        network = build_network(self.network, generator, device=device)
        initial = network.init_weights(1, generator)
        return PaperNetworkPolicy(
            network,
            initial,
            evolve=self.evolve,
            scale=self.scale,
            tie=self.tie,
            compile=self.compile,
        )


class PaperNetworkState(NamedTuple):
    """The members' networks between two decisions and their dense plastic weights."""

    network: NetworkState
    weights: PlasticWeights


@dataclass(frozen=True, eq=False)
class PaperNetworkPolicy:
    """See the module docstring; ``initial`` holds the untrained plastic weights ``[1, ...]``
    (``[K, ...]`` for a stack of K networks, :func:`stack_policies`); ``record``: ``act`` also
    returns every time step's spikes (what a plasticity rule reads); ``network_rows``, for a
    stack: how many consecutive parameter vectors of ``start`` each network runs."""

    network: CartPoleNetwork
    initial: PlasticWeights
    evolve: Literal["all", "ea_em"] = "all"
    scale: Literal["linear", "log"] = "linear"
    tie: TieBreak = "random"
    compile: bool = False
    record: bool = False
    network_rows: tuple[int, ...] | None = None

    @property
    def num_parameters(self) -> int:
        return int(self.initial_parameters().numel())

    def initial_parameters(self, generator: torch.Generator | None = None) -> Tensor:
        """The untrained network's plastic weights (drawn with the connectivity)."""
        flat = self.network.flatten(self.initial)[0]
        flat = flat[self._es_ea_count :] if self.evolve == "ea_em" else flat
        return flat.log() if self.scale == "log" else flat

    @property
    def _es_ea_count(self) -> int:
        return int(self.network.connections["ES->EA"].mask.sum())

    def with_rows(self, rows: Sequence[int]) -> PaperNetworkPolicy:
        """This stack, its network k running ``rows[k]`` consecutive parameter vectors."""
        if self.network.members != len(rows):
            raise ValueError(f"{len(rows)} row counts for a stack of {self.network.members}")
        return dataclasses.replace(self, network_rows=tuple(rows))

    def _network_index(self, population: int, device: torch.device) -> Tensor | None:
        """Which network of a stack each of ``population`` rows runs (None: one network)."""
        if self.network_rows is None:
            return None
        if sum(self.network_rows) != population:
            raise ValueError(f"network_rows {self.network_rows} do not add up to {population}")
        counts = torch.tensor(self.network_rows, device=device)
        return torch.arange(len(counts), device=device).repeat_interleave(counts)

    def weights(self, params: Tensor) -> PlasticWeights:
        """Dense plastic weights ``[P, pre, post]`` in mV of parameter vectors ``[P, D]``."""
        index = self._network_index(len(params), params.device)
        flat = (params.exp() if self.scale == "log" else params).clamp(0.0, MAX_WEIGHT_MV)
        if self.evolve == "ea_em":
            fixed = self.network.flatten(self.initial)[:, : self._es_ea_count].to(flat)
            fixed = fixed[index] if index is not None else fixed.expand(len(flat), -1)
            flat = torch.cat([fixed, flat], dim=1)
        return self.network.unflatten(flat, index)

    def start(self, params: Tensor, batch: int) -> PaperNetworkState:
        """Every member's network at rest, and its dense weights, built once for the
        episodes that follow (``act`` uses them: ``params`` stay fixed until the next
        ``start``)."""
        index = self._network_index(len(params), params.device)
        return PaperNetworkState(
            initial_state(self.network, len(params), batch, index), self.weights(params)
        )

    def select(self, state: PaperNetworkState, members: Tensor) -> PaperNetworkState:
        weights = PlasticWeights(*(w[members] for w in state.weights))
        return PaperNetworkState(select_members(state.network, members), weights)

    def compile_mode(self, device: torch.device) -> CompileMode:
        """How :func:`run_window` runs this policy's windows on ``device``: compiled (a
        recording window through ``torch.compile``; else each time step as an AOTInductor
        package on CPU, through ``torch.compile`` elsewhere) or not."""
        if not self.compile:
            return "off"
        if self.record:
            return "window"
        one_per_member = self.network.members and self.network_rows is None  # no AOT package
        return "step" if device.type != "cpu" or one_per_member else "aot"

    def act(
        self,
        obs: Tensor,
        params: Tensor | None,
        state: PaperNetworkState,
        generator: torch.Generator | Sequence[torch.Generator],
    ) -> tuple[PolicyOutput, PaperNetworkState]:
        """One 50-ms window; the weights are the state's (``params`` built them at ``start``,
        or a plasticity rule changed them since); ``generator`` breaks ties (one per member:
        see :func:`~neurorl.core.decoders.spike_count_vote`)."""
        output = run_window(
            obs,
            state.network,
            self.network,
            state.weights,
            record=self.record,
            compile=self.compile_mode(obs.device),
        )
        actions, undecided = spike_count_vote(output.counts, 2, self.tie, generator)
        policy_output = PolicyOutput(actions, undecided, output.total, output.spikes)
        return policy_output, state._replace(network=output.state)

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        raise NotExportableError(
            "the paper network (INTF7 cells with NMDA, AHP and delays) has no NIR equivalent"
        )


def stack_policies(policies: Sequence[PaperNetworkPolicy]) -> PaperNetworkPolicy:
    """K policies of one config but their connectivity (e.g. K seeds' networks) as one, which
    runs any number of parameter vectors per network (:meth:`PaperNetworkPolicy.with_rows`);
    each network's rows act as they would in their own policy."""
    first = policies[0]
    settings = ("evolve", "scale", "tie", "compile", "record", "network_rows")
    if any(getattr(p, key) != getattr(first, key) for p in policies for key in settings):
        raise ValueError("stacked policies must differ in their networks only")
    initial = PlasticWeights(
        *(torch.cat(parts) for parts in zip(*(p.initial for p in policies), strict=True))
    )
    network = stack_networks([p.network for p in policies])
    return dataclasses.replace(first, network=network, initial=initial)
