"""STDP-RL, then evolution, on the paper's CartPole network (one file, top to bottom).

Two learning mechanisms on two timescales, one after the other on the same network: first
the agent learns online within its lifetime by STDP-RL (:mod:`neurorl.experiments.stdp_rl`,
the paper's rule and schedule) for ``lifetime.episodes`` episodes; then the ES
(:mod:`neurorl.experiments.evolution`) starts its centre from the weights that STDP-RL ended
with, instead of the untrained ones, and evolves them on (plasticity off, as in the paper's
evolution). STDP-RL learns fast where evolution is slow, from an untrained network to
~80-100 steps in its first ~800 episodes, and then levels off, where evolution goes on to
500 (Haşegan et al. 2022's table). Every episode of both phases counts in ``episodes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np
from torch import Tensor

from neurorl.experiments.evolution import EvolutionTrainer, PaperNetworkEvolutionConfig
from neurorl.experiments.stdp_rl import (
    PAPER_STAGES,
    CriticConfig,
    PlasticityConfig,
    Stage,
    STDPRLConfig,
    STDPRLTrainer,
)
from neurorl.experiments.trainer import Agent, Trainer


@dataclass(frozen=True)
class LifetimeConfig:
    """The STDP-RL phase: the first ``episodes`` episodes of its schedule, on the network of
    ``net`` (its connectivity, time step and tie-break)."""

    episodes: int = 800
    episodes_per_step: int = 100  # STDP-RL episodes per train_step (a metrics row)
    stages: tuple[Stage, ...] = PAPER_STAGES
    plasticity: PlasticityConfig = field(default_factory=PlasticityConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)

    def __post_init__(self) -> None:
        if self.episodes < 0 or self.episodes_per_step < 1:
            raise ValueError(
                "lifetime.episodes must be >= 0 and lifetime.episodes_per_step >= 1, got "
                f"{self.episodes} and {self.episodes_per_step}"
            )


@dataclass(frozen=True)
class LifetimeEvolutionConfig(PaperNetworkEvolutionConfig):
    lifetime: LifetimeConfig = field(default_factory=LifetimeConfig)

    def stdp_rl(self) -> STDPRLConfig:
        """The STDP-RL phase's config: the run's seed, device, env, network and test."""
        return STDPRLConfig(
            env_id=self.env_id,
            seed=self.seed,
            device=self.device,
            net=self.net,
            stages=self.lifetime.stages,
            plasticity=self.lifetime.plasticity,
            critic=self.lifetime.critic,
            eval=self.eval,
        )


class LifetimeEvolutionTrainer(Trainer):
    """``train_step``: ``lifetime.episodes_per_step`` STDP-RL episodes while the lifetime
    lasts, then one ES generation. Every row has the same metrics: ``phase`` (0 STDP-RL, 1
    evolution) and ``return``, the phase's score: STDP-RL's mean steps over its last 100
    training episodes, then the ES centre's return on its scoring episodes."""

    score_key = "return"
    keeps = "last"  # the last scored weights (the ES's result)

    def __init__(self, config: LifetimeEvolutionConfig) -> None:
        self.config = config
        self.lifetime = STDPRLTrainer(config.stdp_rl())
        self.evolution = EvolutionTrainer(config)
        self.policy = self.evolution.policy  # the same network, plasticity off
        self.iteration = 0

    @property
    def lifetime_over(self) -> bool:
        return self.lifetime.episodes >= self.config.lifetime.episodes

    @property
    def budget(self) -> int:
        """Steps at most: the lifetime's blocks of episodes, then the ES's generations."""
        lifetime = self.config.lifetime
        blocks = math.ceil(lifetime.episodes / lifetime.episodes_per_step)
        return blocks + self.config.train.generations

    @property
    def episodes(self) -> int:
        return self.lifetime.episodes + self.evolution.episodes

    @property
    def env_steps(self) -> int:
        return self.lifetime.env_steps + self.evolution.env_steps

    def finished(self) -> bool:
        return self.lifetime_over and self.evolution.finished()

    def train_step(self) -> dict[str, float]:
        if self.lifetime_over:
            metrics = self.evolution.train_step()
            phase = {
                "phase": 1,
                "return": metrics["center_return"],
                "validation_return": metrics.get("validation_return", -1.0),
            }
        else:
            left = self.config.lifetime.episodes - self.lifetime.episodes
            for _ in range(min(self.config.lifetime.episodes_per_step, left)):
                metrics = self.lifetime.train_step()
            if self.lifetime_over:
                self.evolution.start_from(self.lifetime.params())
            phase = {"phase": 0, "return": metrics["average_steps"], "validation_return": -1.0}
        self.iteration += 1
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            **phase,
            "undecided_fraction": metrics["undecided_fraction"],
        }

    def params(self) -> Tensor:
        """The weights learned so far: STDP-RL's, then the ES's last scored centre."""
        return self.evolution.params() if self.lifetime_over else self.lifetime.params()

    def parameters_finite(self) -> bool:
        """The weights that train on: STDP-RL's, then the ES's centre (not only the scored one)."""
        trainer = self.evolution if self.lifetime_over else self.lifetime
        return trainer.parameters_finite()

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Test returns with plasticity off (the evolution's test)."""
        return self.evolution.evaluate(params, episodes, env_seed)

    def agent(self, params: Tensor, seed: int = 0) -> Agent:
        return self.evolution.agent(params, seed)

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        return self.evolution.to_nir(params)

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        return self.evolution.plots(folder, params)

    def state_dict(self) -> dict:
        return {
            "lifetime": self.lifetime.state_dict(),
            "evolution": self.evolution.state_dict(),
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict) -> None:
        self.lifetime.load_state_dict(state["lifetime"])
        self.evolution.load_state_dict(state["evolution"])
        self.iteration = state["iteration"]
