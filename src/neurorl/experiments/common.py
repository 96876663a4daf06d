"""Config sections every experiment shares: one vocabulary across ES, STDP-RL, DQN, TD3 and
the systems built on them.

- ``eval``: the test protocol (``eval.episodes`` from env seed ``eval.env_seed``), run once
  on the policy that ``best.pt`` keeps.
- ``train.stop_score``: stop once the trainer's score reaches this (None: run the budget).
- ``train.checkpoint``: which policy ``best.pt`` keeps (``best``: the highest score;
  ``last``: the last scored; ``validated``: the highest validation mean).
- ``train.validate_every`` / ``train.validation_episodes``: model selection on episodes
  from seeds of their own, never the test's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from neurorl.config import require
from neurorl.experiments.trainer import Checkpoint, Trainer

CheckpointRule = Literal["best", "last", "validated"]


@dataclass(frozen=True)
class EvalConfig:
    episodes: int = 100
    env_seed: int = 42

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"eval.episodes must be >= 1, got {self.episodes}")


@dataclass(frozen=True)
class TuningConfig:
    """The seeds that pick hyper-parameters: ``seeds`` of them from ``first_seed`` (never the
    test's: :meth:`check_apart_from`)."""

    seeds: int = 50
    first_seed: int = 100_000

    def __post_init__(self) -> None:
        require(self, "tuning", ("seeds",), lambda v: v >= 1, ">= 1")

    def check_apart_from(self, test: EvalConfig) -> None:
        """ValueError where a tuning seed is also one of the test's env seeds."""
        tuning = range(self.first_seed, self.first_seed + self.seeds)
        seeds = range(test.env_seed, test.env_seed + test.episodes)
        if set(tuning) & set(seeds):
            raise ValueError(
                f"tuning seeds {tuning.start}..{tuning.stop - 1} and test seeds "
                f"{seeds.start}..{seeds.stop - 1} must be disjoint"
            )


def check_checkpoint_rule(rule: str, validate_every: int) -> None:
    """ValueError for an unknown ``train.checkpoint`` or ``validated`` without validation."""
    if rule not in ("best", "last", "validated"):
        raise ValueError(f"train.checkpoint must be 'best', 'last' or 'validated', got {rule!r}")
    if rule == "validated" and validate_every < 1:
        raise ValueError("train.checkpoint=validated needs train.validate_every > 0")


class TuningTrainer(Trainer):
    """A study whose ``train_step`` grid-searches the agent ``tuned[iteration]`` on the
    tuning seeds (``config.tuning.first_seed`` on, ``config.tuning.seeds`` of them); best.pt
    keeps the last tuned hyper-parameters."""

    config: Any
    tuned: Sequence[str]

    @property
    def score_key(self) -> str:
        return "tuning_score"

    @property
    def keeps(self) -> Checkpoint:
        return "last"

    @property
    def budget(self) -> int:
        return len(self.tuned)

    def finished(self) -> bool:
        return self.iteration >= len(self.tuned)

    def tuning_seeds(self) -> np.ndarray:
        return self.config.tuning.first_seed + np.arange(self.config.tuning.seeds)
