"""Evolution of a policy network on a discrete-action Gymnasium task (one file, top to bottom).

Each generation: sample P members around the centre, run every member (and the centre) on
E episodes as one batched tensor program over a vector env, update the centre from the
members' mean returns. Random streams are derived from (seed, generation), so a run resumed
from any checkpoint continues exactly as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import gymnasium as gym
import nir
import numpy as np
import torch
from torch import Tensor

from neurorl.core.lif import LIFParameters
from neurorl.errors import ConfigError
from neurorl.learn.es import ESConfig, EvolutionStrategy
from neurorl.learn.rollout import run_episodes
from neurorl.nets.policies import PolicyOutput, ReluArgmaxPolicy, SpikingVotePolicy
from neurorl.nets.spiking_mlp import SpikingMLP


@dataclass(frozen=True)
class NetConfig:
    kind: Literal["spiking", "relu"] = "spiking"
    hidden: int = 16
    hidden_layers: int = 1
    neurons_per_action: int = 4
    steps: int = 8
    beta: float = 0.8
    threshold: float = 1.0
    reset: Literal["soft", "hard"] = "soft"
    input_gain: float = 4.0
    tie: Literal["random", "first"] = "random"

    def __post_init__(self) -> None:
        for name in ("hidden", "neurons_per_action", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"net.{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_layers < 0:
            raise ValueError(f"net.hidden_layers must be >= 0, got {self.hidden_layers}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"net.beta (membrane decay per step) must be in [0, 1], got {self.beta}")
        if self.threshold <= 0:
            raise ValueError(f"net.threshold must be > 0, got {self.threshold}")


@dataclass(frozen=True)
class TrainConfig:
    generations: int = 100
    episodes_per_member: int = 5
    stop_return: float | None = 500.0  # stop when the centre's mean return reaches this

    def __post_init__(self) -> None:
        if self.generations < 1 or self.episodes_per_member < 1:
            raise ValueError("train.generations and train.episodes_per_member must be >= 1")


@dataclass(frozen=True)
class EvalConfig:
    episodes: int = 100
    env_seed: int = 42

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"eval.episodes must be >= 1, got {self.episodes}")


@dataclass(frozen=True)
class EvolutionConfig:
    env_id: str = "CartPole-v1"
    seed: int = 0
    device: str = "cpu"
    net: NetConfig = field(default_factory=NetConfig)
    es: ESConfig = field(default_factory=ESConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def stream(seed: int, *indices: int) -> torch.Generator:
    """An independent CPU random stream for (seed, indices...), e.g. (seed, generation)."""
    state = np.random.SeedSequence([seed, *indices]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


class EvolutionTrainer:
    """ES over the flat parameters of a spiking (or ReLU) policy; ``train_step`` = one generation."""

    score_key = "center_return"

    def __init__(self, config: EvolutionConfig) -> None:
        self.config = config
        try:
            probe = gym.make(config.env_id)
        except gym.error.Error as error:
            raise ConfigError(f"env_id '{config.env_id}' is not a Gymnasium environment ({error})") from None
        if not isinstance(probe.action_space, gym.spaces.Discrete):
            raise ConfigError(f"evolution of a vote policy needs a discrete action space; {config.env_id} has {probe.action_space}")
        obs_dim, num_actions = int(np.prod(probe.observation_space.shape)), int(probe.action_space.n)
        probe.close()
        net = config.net
        outputs = num_actions * (net.neurons_per_action if net.kind == "spiking" else 1)
        sizes = (2 * obs_dim, *[net.hidden] * net.hidden_layers, outputs)
        if net.kind == "spiking":
            neuron = LIFParameters(beta=net.beta, threshold=net.threshold, reset=net.reset)
            self.net: SpikingMLP | None = SpikingMLP(sizes, neuron, net.steps)
            self.policy = SpikingVotePolicy(self.net, num_actions, net.input_gain, net.tie)
        else:
            self.net = None
            self.policy = ReluArgmaxPolicy(sizes, net.input_gain)
        center = SpikingMLP(sizes).init(1, stream(config.seed, 0))[0].to(config.device)
        self.es = EvolutionStrategy(center, config.es)
        self.iteration = 0
        self.env_steps = 0
        self.episodes = 0
        self.last_center_return = -np.inf

    @property
    def total_iterations(self) -> int:
        return self.config.train.generations

    def finished(self) -> bool:
        stop = self.config.train.stop_return
        solved = stop is not None and self.last_center_return >= stop
        return solved or self.iteration >= self.total_iterations

    def params(self) -> Tensor:
        """The centre of the search distribution, ``[D]``."""
        return self.es.center.detach().clone()

    def rollout(self, params: Tensor, episodes: int, env_seed: int, generator: torch.Generator) -> tuple[np.ndarray, dict[str, float]]:
        """Run each row of ``params [P, D]`` for ``episodes`` episodes; returns ``[P, E]``."""
        decisions: list[PolicyOutput] = []

        def act(obs: Tensor) -> Tensor:
            out = self.policy(obs, params, generator)
            decisions.append(out)
            return out.actions

        with torch.no_grad():
            result = run_episodes(self.config.env_id, act, len(params), episodes, env_seed, self.config.device)
        stats = {
            "spikes_per_decision": float(torch.stack([d.spikes.mean() for d in decisions]).mean()),
            "undecided_fraction": float(torch.stack([d.undecided.float().mean() for d in decisions]).mean()),
        }
        self.last_rollout_steps = result.env_steps
        return result.returns, stats

    def train_step(self) -> dict[str, float]:
        config, generation = self.config, self.iteration
        episodes = config.train.episodes_per_member
        members = self.es.ask(stream(config.seed, 1, generation))
        params = torch.cat([members, self.es.center.detach()[None]])
        env_seed = int(np.random.SeedSequence([config.seed, 2, generation]).generate_state(1)[0] % 2**31)
        returns, stats = self.rollout(params, episodes, env_seed, stream(config.seed, 3, generation))
        fitness = torch.as_tensor(returns[:-1].mean(1), dtype=torch.float32, device=config.device)
        es_stats = self.es.tell(fitness)
        self.iteration += 1
        self.env_steps += self.last_rollout_steps
        self.episodes += returns.size
        self.last_center_return = float(returns[-1].mean())
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "center_return": self.last_center_return,
            "mean_return": float(returns[:-1].mean()),
            "max_member_return": float(fitness.max()),
            **stats,
            **es_stats,
        }

    def parameters_finite(self) -> bool:
        return bool(torch.isfinite(self.es.center).all())

    def state_dict(self) -> dict:
        return {
            "es": self.es.state_dict(),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "last_center_return": self.last_center_return,
        }

    def load_state_dict(self, state: dict) -> None:
        self.es.load_state_dict(state["es"])
        self.iteration = state["iteration"]
        self.env_steps = state["env_steps"]
        self.episodes = state["episodes"]
        self.last_center_return = state["last_center_return"]

    def evaluate(self, params: Tensor, episodes: int, env_seed: int) -> tuple[np.ndarray, dict[str, float]]:
        """Test returns ``[episodes]`` of one parameter vector on env seeds env_seed, +1, ..."""
        returns, stats = self.rollout(params[None].to(self.config.device), episodes, env_seed, stream(env_seed, 4))
        return returns[0], stats

    @property
    def is_spiking(self) -> bool:
        return self.net is not None

    def to_nir(self, params: Tensor) -> nir.NIRGraph | None:
        """The policy network as a NIR graph, or None when the policy is not spiking."""
        if self.net is None:
            return None
        from neurorl.export.nir import to_nir

        return to_nir(self.net, params.cpu())
