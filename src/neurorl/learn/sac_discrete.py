"""Discrete soft actor-critic, an ensemble of independent agents as one batched program.

Christodoulou 2019 ("Soft actor-critic for discrete action settings", arXiv:1910.07207), in
the form Li, Kreiman & Ramanathan 2024 used: a policy MLP and twin Q MLPs (obs-64-64-actions,
ReLU), target Q networks updated by Polyak averaging, and automatic entropy tuning towards
``target_entropy_ratio * log(actions)``. With the policy's probabilities ``pi(.|s)``::

    V(s')       = sum_a pi(a|s') [min_i Q_i_target(s', a) - alpha log pi(a|s')]
    y           = r + gamma (1 - terminated) V(s')
    L_Q         = (Q_i(s, a) - y)^2                                   for i = 1, 2
    L_pi        = sum_a pi(a|s) [alpha log pi(a|s) - min_i Q_i(s, a)]
    L_alpha     = -log(alpha) (H_target - H(pi(.|s)))                 H = -sum_a pi log pi

Every tensor has a leading ensemble dimension ``P``: weights ``[P, in, out]``, batches
``[P, B, ...]`` (each member draws its own batch), ``log_alpha [P]``. Members never share a
gradient, so one optimizer over all of them trains ``P`` agents at once. An ensemble acts
by the argmax of its members' averaged probabilities (the paper's 20-30 agents per line).

``spiking_actor``: the policy is a spiking network of the deep spiking RL core
(:class:`neurorl.nets.deep.DeepNet`, current-based LIF layers trained through surrogate
gradients, logits read from an integrating output) with the actor's hidden sizes, one per
member; the critics stay ReLU MLPs (they are needed in training only).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor, nn

from neurorl.nets.deep import DeepNet, DeepNetConfig


@dataclass(frozen=True)
class SACConfig:
    """The paper's settings: Adam 1e-3, gamma 0.99, tau 0.005, batch 64, target entropy
    0.98 log 2; ``ensemble`` agents trained side by side (the paper: 20-30);
    ``target_every``: gradient steps between Polyak updates (1: every step);
    ``spiking_actor``: the policy is a ``snn`` (its hidden sizes: ``hidden``)."""

    ensemble: int = 1
    hidden: tuple[int, ...] = (64, 64)
    learning_rate: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    target_every: int = 1
    batch_size: int = 64
    target_entropy_ratio: float = 0.98
    spiking_actor: bool = False
    snn: DeepNetConfig = field(default_factory=DeepNetConfig)

    def __post_init__(self) -> None:
        for name in ("ensemble", "batch_size", "target_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"sac.{name} must be >= 1, got {getattr(self, name)}")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"sac.hidden must be widths >= 1, got {self.hidden}")
        for name in ("gamma", "tau", "target_entropy_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"sac.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"sac.learning_rate must be > 0, got {self.learning_rate}")
        if self.spiking_actor and self.snn.kind != "snn":
            raise ValueError("sac.spiking_actor needs sac.snn.kind=snn")


class Batch(NamedTuple):
    obs: Tensor  # [P, B, obs_dim]
    actions: Tensor  # [P, B] long
    rewards: Tensor  # [P, B]
    next_obs: Tensor  # [P, B, obs_dim]
    terminated: Tensor  # [P, B] 1.0 at a terminal state


# --- networks --------------------------------------------------------------------------------


class EnsembleLinear(nn.Module):
    """``P`` independent affine maps: ``x [P, B, in] -> [P, B, out]`` (nn.Linear's init)."""

    def __init__(self, members: int, fan_in: int, fan_out: int, generator: torch.Generator):
        super().__init__()
        bound = 1.0 / math.sqrt(fan_in)
        uniform = lambda *shape: (2 * torch.rand(*shape, generator=generator) - 1) * bound  # noqa: E731
        self.weight = nn.Parameter(uniform(members, fan_in, fan_out))
        self.bias = nn.Parameter(uniform(members, 1, fan_out))

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """``P`` ReLU MLPs ``obs -> hidden... -> outputs`` as batched matrix products."""

    def __init__(self, members: int, sizes: tuple[int, ...], generator: torch.Generator):
        super().__init__()
        self.layers = nn.ModuleList(
            EnsembleLinear(members, a, b, generator) for a, b in itertools.pairwise(sizes)
        )

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class EnsembleSpikingNet(nn.Module):
    """``P`` spiking networks (:class:`DeepNet`): ``x [P, B, in] -> [P, B, out]``, one member
    at a time (a DeepNet holds one network's weights)."""

    def __init__(
        self,
        members: int,
        sizes: tuple[int, ...],
        config: DeepNetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        config = dataclasses.replace(config, hidden=tuple(sizes[1:-1]))
        self.members = nn.ModuleList(
            DeepNet(config, sizes[0], sizes[-1], generator) for _ in range(members)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([net.run(x[i])[0] for i, net in enumerate(self.members)])


def build_actor(
    config: SACConfig, obs_dim: int, actions: int, generator: torch.Generator
) -> nn.Module:
    """The ensemble's policy network: ReLU MLPs, or spiking networks (``spiking_actor``)."""
    sizes = (obs_dim, *config.hidden, actions)
    if config.spiking_actor:
        return EnsembleSpikingNet(config.ensemble, sizes, config.snn, generator)
    return EnsembleMLP(config.ensemble, sizes, generator)


def actor_vector(actor: nn.Module) -> Tensor:
    """The actor's parameters and buffers (``state_dict`` order) as one flat vector."""
    return torch.cat([value.detach().reshape(-1) for value in actor.state_dict().values()])


def load_actor_vector(actor: nn.Module, vector: Tensor) -> None:
    """The inverse of :func:`actor_vector`."""
    state, offset = actor.state_dict(), 0
    for key, value in state.items():
        state[key] = vector[offset : offset + value.numel()].view_as(value).to(value.dtype)
        offset += value.numel()
    if offset != vector.numel():
        raise ValueError(f"vector has {vector.numel()} values, the actor {offset}")
    actor.load_state_dict(state)


# --- the agent -------------------------------------------------------------------------------


class DiscreteSAC(nn.Module):
    """``P`` discrete SAC agents: actor, twin critics and their targets, entropy weights."""

    def __init__(self, obs_dim: int, actions: int, config: SACConfig, generator: torch.Generator):
        super().__init__()
        self.config = config
        sizes = (obs_dim, *config.hidden, actions)
        members = config.ensemble
        self.actor = build_actor(config, obs_dim, actions, generator)
        self.q1 = EnsembleMLP(members, sizes, generator)
        self.q2 = EnsembleMLP(members, sizes, generator)
        self.q1_target = EnsembleMLP(members, sizes, generator)
        self.q2_target = EnsembleMLP(members, sizes, generator)
        self.q1_target.load_state_dict(self.q1.state_dict())
        self.q2_target.load_state_dict(self.q2.state_dict())
        self.log_alpha = nn.Parameter(torch.zeros(members))
        self.target_entropy = config.target_entropy_ratio * math.log(actions)
        lr = config.learning_rate
        self.q_optimizer = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=lr)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=lr)
        self.updates = 0

    def probabilities(self, obs: Tensor) -> Tensor:
        """Each member's ``pi(a|s)``: ``obs [P, B, obs_dim] -> [P, B, actions]``."""
        return torch.softmax(self.actor(obs), dim=-1)

    def act(self, obs: Tensor) -> Tensor:
        """The ensemble's action for ``obs [B, obs_dim]``: argmax of the mean probability."""
        members = self.config.ensemble
        return self.probabilities(obs.expand(members, *obs.shape)).mean(0).argmax(-1)

    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step of critics, actor and entropy weights on ``batch``."""
        config = self.config
        alpha = self.log_alpha.exp().detach()[:, None, None]

        with torch.no_grad():
            next_log_pi = torch.log_softmax(self.actor(batch.next_obs), dim=-1)
            next_q = torch.min(self.q1_target(batch.next_obs), self.q2_target(batch.next_obs))
            next_value = (next_log_pi.exp() * (next_q - alpha * next_log_pi)).sum(-1)
            target = batch.rewards + config.gamma * (1.0 - batch.terminated) * next_value

        action = batch.actions[..., None]
        q1_taken = self.q1(batch.obs).gather(-1, action).squeeze(-1)
        q2_taken = self.q2(batch.obs).gather(-1, action).squeeze(-1)
        # mean over each member's batch, summed over members: independent agents
        q_loss = ((q1_taken - target) ** 2 + (q2_taken - target) ** 2).mean(1).sum()
        self.q_optimizer.zero_grad()
        q_loss.backward()
        self.q_optimizer.step()

        log_pi = torch.log_softmax(self.actor(batch.obs), dim=-1)
        pi = log_pi.exp()
        with torch.no_grad():
            q = torch.min(self.q1(batch.obs), self.q2(batch.obs))
        actor_loss = (pi * (alpha * log_pi - q)).sum(-1).mean(1).sum()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()

        entropy = -(pi.detach() * log_pi.detach()).sum(-1).mean(1)  # [P]
        alpha_loss = -(self.log_alpha * (self.target_entropy - entropy)).sum()
        self.alpha_optimizer.zero_grad()
        alpha_loss.backward()
        self.alpha_optimizer.step()

        self.updates += 1
        if self.updates % config.target_every == 0:
            with torch.no_grad():
                for target_net, net in ((self.q1_target, self.q1), (self.q2_target, self.q2)):
                    for t, o in zip(target_net.parameters(), net.parameters(), strict=True):
                        t.lerp_(o, config.tau)
        return {
            "q_loss": float(q_loss.detach()) / config.ensemble,
            "actor_loss": float(actor_loss.detach()) / config.ensemble,
            "alpha": float(self.log_alpha.exp().mean().detach()),
            "entropy": float(entropy.mean()),
            "q_mean": float(q1_taken.detach().mean()),
        }

    def optimizer_states(self) -> dict[str, dict]:
        return {
            "q": self.q_optimizer.state_dict(),
            "actor": self.actor_optimizer.state_dict(),
            "alpha": self.alpha_optimizer.state_dict(),
        }

    def load_optimizer_states(self, states: dict[str, dict]) -> None:
        self.q_optimizer.load_state_dict(states["q"])
        self.actor_optimizer.load_state_dict(states["actor"])
        self.alpha_optimizer.load_state_dict(states["alpha"])
