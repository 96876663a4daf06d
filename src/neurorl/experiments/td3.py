"""TD3 with a spiking (or ReLU) actor and ReLU twin critics (Akl et al. 2023), top to bottom.

Fujimoto et al. 2018: twin critics, target policy smoothing (clipped Gaussian noise on the
target action), delayed actor and target updates (every ``policy_delay`` critic steps, Polyak
``tau``), Gaussian exploration noise, uniform random actions for the first
``learning_starts`` steps. The actor is a :class:`~neurorl.nets.deep.DeepNet`:
``a = max_action * tanh(net(s))`` (the paper's tanh of the output membrane; PopSAN with
``readout=rate_mean``). The critics ``Q(s, a)`` are DeepNets on ``[s, a]`` (ReLU by default;
``critic.kind=snn`` makes them spiking too). A time-limit end is not terminal.

The episode loop, replay buffer, greedy evaluation and the resumable state are those of
:class:`neurorl.experiments.dqn.OffPolicyTrainer`; one gradient step per env step.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from neurorl.config import require
from neurorl.envs import env_spaces
from neurorl.errors import ConfigError
from neurorl.experiments.common import EvalConfig, check_checkpoint_rule
from neurorl.experiments.dqn import OffPolicyTrainer, Stream, polyak_update, td_target
from neurorl.nets.deep import DeepNet, DeepNetConfig
from neurorl.streams import stream


def continuous_env_spaces(env_id: str) -> tuple[int, int, Tensor]:
    """``(observation size, action size, max_action [act_dim])`` of a Box-action env."""
    observation_space, space = env_spaces(env_id)
    if not isinstance(space, gym.spaces.Box):
        raise ConfigError(
            f"this experiment needs a continuous (Box) action space; {env_id} has {space}"
        )
    if not np.allclose(space.low, -space.high):
        raise ConfigError(f"TD3 here needs symmetric action bounds; {env_id} has {space}")
    obs_dim = int(np.prod(observation_space.shape))
    return obs_dim, int(np.prod(space.shape)), torch.as_tensor(space.high, dtype=torch.float32)


@dataclass(frozen=True)
class TD3TrainConfig:
    total_steps: int = 30_000  # env steps
    steps_per_iteration: int = 2_000  # whole episodes until this many steps, then a score
    validation_episodes: int = 5  # greedy episodes per iteration (the score)
    stop_score: float | None = None  # stop once the score reaches this
    checkpoint: Literal["best", "last"] = "best"  # the policy best.pt keeps
    buffer_size: int = 1_000_000
    batch_size: int = 100
    gamma: float = 0.99
    tau: float = 0.005
    actor_learning_rate: float = 1e-3
    critic_learning_rate: float = 1e-3
    learning_starts: int = 1_000  # uniform random actions and no updates before this step
    exploration_noise: float = 0.1  # std, in units of max_action
    policy_noise: float = 0.2  # target smoothing std, in units of max_action
    noise_clip: float = 0.5  # in units of max_action
    policy_delay: int = 2  # critic steps per actor (and target) step

    def __post_init__(self) -> None:
        counts = ("total_steps", "steps_per_iteration", "validation_episodes", "buffer_size")
        counts += ("batch_size", "policy_delay")
        require(self, "train", counts, lambda v: v >= 1, ">= 1")
        require(self, "train", ("gamma", "tau"), lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        noises = ("exploration_noise", "policy_noise", "noise_clip", "learning_starts")
        require(self, "train", noises, lambda v: v >= 0, ">= 0")
        if self.actor_learning_rate <= 0 or self.critic_learning_rate <= 0:
            raise ValueError("train.actor_learning_rate and critic_learning_rate must be > 0")
        check_checkpoint_rule(self.checkpoint, validate_every=0)


@dataclass(frozen=True)
class TD3Config:
    env_id: str = "Pendulum-v1"
    seed: int = 0
    device: str = "cpu"
    actor: DeepNetConfig = field(
        default_factory=lambda: DeepNetConfig(
            hidden=(256, 256), steps=5, threshold=1.0, encoding="two_neuron"
        )
    )
    critic: DeepNetConfig = field(
        default_factory=lambda: DeepNetConfig(kind="ann", hidden=(256, 256))
    )
    train: TD3TrainConfig = field(default_factory=TD3TrainConfig)
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(episodes=10))


class TD3Trainer(OffPolicyTrainer):
    """TD3 on a continuous-action env; the policy saved as best.pt is the actor."""

    def __init__(self, config: TD3Config) -> None:
        obs_dim, act_dim, self.action_high = continuous_env_spaces(config.env_id)
        super().__init__(config, obs_dim, (act_dim,), discrete=False)
        self.max_action = self.action_high.to(self.device)  # the env's bound, on the device
        self.act_dim = act_dim
        self.actor = config.actor.build(obs_dim, act_dim, stream(config.seed, Stream.INIT)).to(
            self.device
        )
        self.critics = nn.ModuleList(
            config.critic.build(obs_dim + act_dim, 1, stream(config.seed, Stream.INIT, k))
            for k in (1, 2)
        ).to(self.device)
        self.actor_target = copy.deepcopy(self.actor)
        self.critics_target = copy.deepcopy(self.critics)
        train = config.train
        self.actor_optimizer = torch.optim.Adam(
            self.actor.parameters(), lr=train.actor_learning_rate
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critics.parameters(), lr=train.critic_learning_rate
        )
        self.policy = self.actor
        self.critic_steps = 0

    def learners(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {
            "actor": self.actor,
            "critics": self.critics,
            "actor_target": self.actor_target,
            "critics_target": self.critics_target,
            "actor_optimizer": self.actor_optimizer,
            "critic_optimizer": self.critic_optimizer,
        }

    def state_dict(self) -> dict:
        return {**super().state_dict(), "critic_steps": self.critic_steps}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.critic_steps = state["critic_steps"]

    def action(self, net: DeepNet, obs: Tensor, generator: torch.Generator | None = None):
        """``a = max_action * tanh(net(obs))`` and the network's activity."""
        out, activity = net.run(obs, generator)
        return self.max_action * torch.tanh(out), activity

    def q_values(self, critics: nn.ModuleList, obs: Tensor, actions: Tensor, generator) -> Tensor:
        """``[2, B]``: both critics on ``[s, a / max_action]``."""
        inputs = torch.cat([obs, actions / self.max_action], -1)
        return torch.stack([critic(inputs, generator).squeeze(-1) for critic in critics])

    def explore(self, obs: Tensor, generator: torch.Generator) -> Tensor:
        train = self.config.train
        high = self.action_high
        if self.env_steps < train.learning_starts:
            return (2 * torch.rand(self.act_dim, generator=generator) - 1) * high
        with torch.no_grad():
            action = self.action(self.actor, obs, generator)[0].cpu()
        noise = torch.randn(self.act_dim, generator=generator) * train.exploration_noise
        return (action + noise * high).clamp(-high, high)

    def greedy(self, net: DeepNet, obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        action, activity = self.action(net, obs)
        return action, net.energy(activity)

    def learn(self, generator: torch.Generator) -> dict[str, float]:
        train = self.config.train
        if self.env_steps < train.learning_starts:
            return {}
        batch = self.buffer.sample(train.batch_size, generator, self.device)
        for critic in self.critics:  # the critics' input scale follows the data they see
            critic.observe(torch.cat([batch.obs, batch.actions / self.max_action], -1))
        with torch.no_grad():
            noise = torch.randn(batch.actions.shape, generator=generator) * train.policy_noise
            noise = noise.clamp(-train.noise_clip, train.noise_clip).to(self.device)
            noise = noise * self.max_action
            next_action, _ = self.action(self.actor_target, batch.next_obs, generator)
            next_action = (next_action + noise).clamp(-self.max_action, self.max_action)
            next_q = self.q_values(self.critics_target, batch.next_obs, next_action, generator)
            targets = td_target(batch.rewards, next_q.min(0).values, batch.terminated, train.gamma)
        q = self.q_values(self.critics, batch.obs, batch.actions, generator)
        critic_loss = (q - targets).square().mean(1).sum()
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        self.critic_steps += 1
        losses = {"critic_loss": float(critic_loss.detach())}
        if self.critic_steps % train.policy_delay == 0:
            action, _ = self.action(self.actor, batch.obs, generator)
            actor_loss = -self.q_values(self.critics[:1], batch.obs, action, generator).mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            polyak_update(self.actor_target, self.actor, train.tau)
            polyak_update(self.critics_target, self.critics, train.tau)
            losses["actor_loss"] = float(actor_loss.detach())
        return losses
