"""DQN with a spiking or ReLU Q-network (Akl et al. 2023), one file, top to bottom.

Mnih et al. 2015 with the paper's settings (``shared/design/papers/akl2023.md``): epsilon-
greedy acting, a replay buffer, a Huber TD loss every ``train_every`` env steps, a target
network copied every ``target_every`` steps (or Polyak-averaged), Double DQN as an option
(van Hasselt et al. 2016). A time-limit end (``truncated``) is not terminal: its transition
bootstraps from the next state's value.

One iteration runs whole episodes until ``steps_per_iteration`` env steps have passed, then
scores the greedy policy on ``validation_episodes`` episodes of its own (the score that picks
best.pt).
Every random draw comes from ``stream(seed, ...)`` keyed by the iteration or the episode,
and the replay buffer is in the state, so a run resumed from a checkpoint (taken between
iterations) continues exactly as an uninterrupted one. A single env is stepped: with one
gradient step per 4 transitions, a vector env does not pay on CPU.

The episode loop, replay buffer and greedy evaluation are shared with :mod:`td3`
(:class:`OffPolicyTrainer`).
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal, NamedTuple

import gymnasium as gym
import nir
import numpy as np
import torch
from torch import Tensor, nn

from neurorl.config import require
from neurorl.core import configure_cpu
from neurorl.envs import discrete_env_spaces
from neurorl.experiments.common import EvalConfig, check_checkpoint_rule
from neurorl.experiments.trainer import Checkpoint, Trainer
from neurorl.learn.rollout import play_episodes
from neurorl.nets.agents import GreedyAgent
from neurorl.nets.deep import DeepNet, DeepNetConfig
from neurorl.streams import seed_of, stream


class Stream(IntEnum):
    """The random streams of an off-policy run, ``stream(seed, Stream.X, ...)``."""

    INIT = 0  # the networks' initial weights
    ITERATION = 1  # exploration, replay sampling and spiking noise of one iteration
    SCORE_STARTS = 2  # the initial states of the per-iteration score episodes
    EPISODE_START = 3  # the initial state of each training episode


# --- replay buffer ----------------------------------------------------------------------


class Batch(NamedTuple):
    obs: Tensor  # [B, obs_dim]
    actions: Tensor  # [B] long (discrete) or [B, act_dim]
    rewards: Tensor  # [B]
    next_obs: Tensor  # [B, obs_dim]
    terminated: Tensor  # [B] 1.0 where the episode ended in a terminal state (not a time limit)


class ReplayBuffer:
    """A ring buffer of transitions as preallocated tensors; sampled uniformly."""

    def __init__(self, capacity: int, obs_dim: int, action_shape: tuple[int, ...], discrete: bool):
        self.capacity, self.size, self.position = capacity, 0, 0
        action_dtype = torch.long if discrete else torch.float32
        self.data = Batch(
            torch.zeros(capacity, obs_dim),
            torch.zeros(capacity, *action_shape, dtype=action_dtype),
            torch.zeros(capacity),
            torch.zeros(capacity, obs_dim),
            torch.zeros(capacity),
        )

    def add(self, obs: Tensor, action: Tensor, reward: float, next_obs: Tensor, terminated: bool):
        for buffer, value in zip(
            self.data, (obs, action, reward, next_obs, float(terminated)), strict=True
        ):
            buffer[self.position] = value
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Batch:
        """A uniform draw (the buffer lives on the CPU), moved to the learner's ``device``."""
        index = torch.randint(self.size, (batch_size,), generator=generator)
        return Batch(*(buffer[index].to(device) for buffer in self.data))

    def state_dict(self) -> dict:
        """Only the filled rows (plain tensors and ints, loadable with weights_only)."""
        return {
            "size": self.size,
            "position": self.position,
            "data": [buffer[: self.size].clone() for buffer in self.data],
        }

    def load_state_dict(self, state: dict) -> None:
        self.size, self.position = state["size"], state["position"]
        for buffer, saved in zip(self.data, state["data"], strict=True):
            buffer[: self.size] = saved


# --- TD target ---------------------------------------------------------------------------


def td_target(rewards: Tensor, next_values: Tensor, terminated: Tensor, gamma: float) -> Tensor:
    """``y = r + gamma * (1 - terminated) * V(s')``: only a terminal state cuts the bootstrap
    (a truncated transition has ``terminated = 0`` and bootstraps; Pardo et al. 2018)."""
    return rewards + gamma * (1.0 - terminated) * next_values


def next_state_values(q_online: Tensor, q_target: Tensor, double: bool) -> Tensor:
    """``max_a Q_target(s', a)``, or Double DQN's ``Q_target(s', argmax_a Q_online(s', a))``."""
    if double:
        return q_target.gather(-1, q_online.argmax(-1, keepdim=True)).squeeze(-1)
    return q_target.max(-1).values


def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """``target <- tau * online + (1 - tau) * target``, buffers copied; tau 1 is an exact copy."""
    if tau == 1.0:
        target.load_state_dict(online.state_dict())
        return
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.lerp_(o, tau)
        for t, o in zip(target.buffers(), online.buffers(), strict=True):
            t.copy_(o)


# --- config --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DQNTrainConfig:
    total_steps: int = 100_000  # env steps
    steps_per_iteration: int = 2_000  # whole episodes until this many steps, then a score
    validation_episodes: int = 10  # greedy episodes per iteration (the score)
    stop_score: float | None = None  # stop once the score reaches this
    checkpoint: Literal["best", "last"] = "best"  # the policy best.pt keeps
    buffer_size: int = 40_000
    batch_size: int = 128
    gamma: float = 0.999
    learning_rate: float = 1e-3
    learning_rate_end: float | None = None  # linear decay to this by total_steps; None: constant
    learning_starts: int = 1_000  # env steps before the first gradient step
    train_every: int = 4  # env steps per gradient step
    target_update: Literal["hard", "soft"] = "hard"
    target_every: int = 100  # env steps per hard copy
    tau: float = 0.005  # Polyak factor per gradient step (soft)
    double: bool = False
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay: float = 0.999  # epsilon = max(end, start * decay ** env_steps)
    max_grad_norm: float = 10.0

    def __post_init__(self) -> None:
        counts = ("total_steps", "steps_per_iteration", "validation_episodes", "buffer_size")
        counts += ("batch_size", "train_every", "target_every")
        require(self, "train", counts, lambda v: v >= 1, ">= 1")
        fractions = ("gamma", "tau", "epsilon_start", "epsilon_end", "epsilon_decay")
        require(self, "train", fractions, lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ValueError("train.learning_rate and train.max_grad_norm must be > 0")
        if self.learning_rate_end is not None and self.learning_rate_end < 0:
            raise ValueError(f"train.learning_rate_end must be >= 0, got {self.learning_rate_end}")
        if self.learning_starts < 0:
            raise ValueError(f"train.learning_starts must be >= 0, got {self.learning_starts}")
        check_checkpoint_rule(self.checkpoint, validate_every=0)


@dataclass(frozen=True)
class DQNConfig:
    env_id: str = "CartPole-v1"
    seed: int = 0
    device: str = "cpu"
    net: DeepNetConfig = field(default_factory=DeepNetConfig)
    train: DQNTrainConfig = field(default_factory=DQNTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# --- the episode loop shared with TD3 -------------------------------------------------------


class OffPolicyTrainer(Trainer):
    """Runs episodes into a replay buffer; a subclass acts (:meth:`explore`), learns
    (:meth:`learn`, after every env step) and names its networks and optimizers.

    Networks live on ``config.device``; the env, the replay buffer and every random stream
    stay on the CPU (so a seed draws the same numbers on any device)."""

    score_key = "greedy_return"
    policy: DeepNet  # the network saved as best.pt (Q-network or actor)

    def __init__(self, config, obs_dim: int, action_shape: tuple[int, ...], discrete: bool):
        configure_cpu()  # flush denormals: decaying membranes slow CPU steps down ~100x
        self.config = config
        self.device = torch.device(config.device)
        self.env = gym.make(config.env_id)
        self.buffer = ReplayBuffer(config.train.buffer_size, obs_dim, action_shape, discrete)
        self.iteration = self.env_steps = self.episodes = 0
        self.last_score = -np.inf
        self.score_seed = seed_of(stream(config.seed, Stream.SCORE_STARTS))

    @abstractmethod
    def explore(self, obs: Tensor, generator: torch.Generator) -> Tensor:
        """The action (on the CPU) to take in ``obs [obs_dim]`` (on the device) while training."""

    @abstractmethod
    def learn(self, generator: torch.Generator) -> dict[str, float]:
        """Called after every env step: gradient steps when due; their losses."""

    @abstractmethod
    def greedy(self, net: DeepNet, obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Test actions of the policy ``net`` for ``obs [E, obs_dim]``, energy per sample."""

    @abstractmethod
    def learners(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """The networks and optimizers whose state is the trainer's state."""

    @property
    def keeps(self) -> Checkpoint:
        return self.config.train.checkpoint

    @property
    def budget(self) -> int:
        return self.config.train.total_steps

    @property
    def progress(self) -> int:
        return self.env_steps

    def finished(self) -> bool:
        stop = self.config.train.stop_score
        return self.env_steps >= self.budget or (stop is not None and self.last_score >= stop)

    def params(self) -> Tensor:
        return self.policy.to_vector()

    def train_step(self) -> dict[str, float]:
        train = self.config.train
        generator = stream(self.config.seed, Stream.ITERATION, self.iteration)
        start, returns, losses = self.env_steps, [], {}
        while self.env_steps - start < train.steps_per_iteration and not self.finished():
            episode = stream(self.config.seed, Stream.EPISODE_START, self.episodes)
            obs, _ = self.env.reset(seed=seed_of(episode))
            obs = torch.as_tensor(obs, dtype=torch.float32)
            episode_return, done = 0.0, False
            while not done and self.env_steps < self.budget:
                obs_on_device = obs.to(self.device)
                self.policy.observe(obs_on_device)
                action = self.explore(obs_on_device, generator)
                next_obs, reward, terminated, truncated, _ = self.env.step(action.numpy())
                next_obs = torch.as_tensor(next_obs, dtype=torch.float32)
                self.buffer.add(obs, action, float(reward), next_obs, bool(terminated))
                self.env_steps += 1
                for key, value in self.learn(generator).items():
                    losses.setdefault(key, []).append(value)
                obs, episode_return = next_obs, episode_return + float(reward)
                done = terminated or truncated
            self.episodes += done
            returns.append(episode_return)
        self.iteration += 1
        scores, energy = self.evaluate(self.params(), train.validation_episodes, self.score_seed)
        self.last_score = float(scores.mean())
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "greedy_return": self.last_score,
            "train_return": float(np.mean(returns)),
            **{key: float(np.mean(values)) for key, values in losses.items()},
            **energy,
        }

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Greedy test returns ``[episodes]`` of a policy vector on seeds env_seed, +1, ..."""
        net = self.policy_with(params)
        return play_episodes(
            self.config.env_id,
            lambda obs: self.greedy(net, obs.to(self.device)),
            episodes,
            env_seed,
        )

    def agent(self, params: Tensor, seed: int = 0) -> GreedyAgent:
        net = self.policy_with(params)
        return GreedyAgent(lambda obs: self.greedy(net, obs)[0], self.device)

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        return self.policy_with(params).cpu().to_nir()

    def policy_with(self, params: Tensor) -> DeepNet:
        """A copy of the policy network holding the flat vector ``params``."""
        net = copy.deepcopy(self.policy)
        net.load_vector(params.to(self.device))
        return net

    def state_dict(self) -> dict:
        return {
            "modules": {name: module.state_dict() for name, module in self.learners().items()},
            "buffer": self.buffer.state_dict(),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "last_score": self.last_score,
        }

    def load_state_dict(self, state: dict) -> None:
        for name, module in self.learners().items():
            module.load_state_dict(state["modules"][name])
        self.buffer.load_state_dict(state["buffer"])
        self.iteration, self.env_steps = state["iteration"], state["env_steps"]
        self.episodes, self.last_score = state["episodes"], state["last_score"]


# --- DQN ---------------------------------------------------------------------------------


class DQNTrainer(OffPolicyTrainer):
    """DQN on a discrete-action env; the Q-network is a :class:`DeepNet` (SNN or ANN)."""

    def __init__(self, config: DQNConfig) -> None:
        obs_dim, self.num_actions = discrete_env_spaces(config.env_id)
        super().__init__(config, obs_dim, (), discrete=True)
        initial = stream(config.seed, Stream.INIT)
        self.q = config.net.build(obs_dim, self.num_actions, initial).to(self.device)
        self.q_target = copy.deepcopy(self.q)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=config.train.learning_rate)
        self.policy = self.q

    def learners(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"q": self.q, "q_target": self.q_target, "optimizer": self.optimizer}

    def epsilon(self) -> float:
        train = self.config.train
        return max(train.epsilon_end, train.epsilon_start * train.epsilon_decay**self.env_steps)

    def learning_rate(self) -> float:
        """Adam's step size now: constant, or linear from ``learning_rate`` to
        ``learning_rate_end`` over ``total_steps`` (a function of env steps, so resumable)."""
        train = self.config.train
        if train.learning_rate_end is None:
            return train.learning_rate
        fraction = min(1.0, self.env_steps / train.total_steps)
        return train.learning_rate + fraction * (train.learning_rate_end - train.learning_rate)

    def explore(self, obs: Tensor, generator: torch.Generator) -> Tensor:
        if float(torch.rand((), generator=generator)) < self.epsilon():
            return torch.randint(self.num_actions, (), generator=generator)
        with torch.no_grad():
            return self.q(obs, generator).argmax().cpu()

    def greedy(self, net: DeepNet, obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        q_values, activity = net.run(obs)
        return q_values.argmax(-1), net.energy(activity)

    def learn(self, generator: torch.Generator) -> dict[str, float]:
        train = self.config.train
        if self.env_steps % train.target_every == 0 and train.target_update == "hard":
            polyak_update(self.q_target, self.q, 1.0)
        if self.env_steps < train.learning_starts or self.env_steps % train.train_every:
            return {}
        batch = self.buffer.sample(train.batch_size, generator, self.device)
        with torch.no_grad():
            q_next_target = self.q_target(batch.next_obs, generator)
            q_next_online = self.q(batch.next_obs, generator) if train.double else q_next_target
            next_values = next_state_values(q_next_online, q_next_target, train.double)
            targets = td_target(batch.rewards, next_values, batch.terminated, train.gamma)
        q_taken = self.q(batch.obs, generator).gather(-1, batch.actions[:, None]).squeeze(-1)
        loss = nn.functional.smooth_l1_loss(q_taken, targets)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), train.max_grad_norm)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        self.optimizer.step()
        if train.target_update == "soft":
            polyak_update(self.q_target, self.q, train.tau)
        return {"loss": float(loss.detach()), "q_mean": float(q_taken.detach().mean())}
