"""Non-stationary Gaussian bandits (Lee, Liebana Garcia, Clopath & Dabney 2024).

A bandit of ``arms`` arms plays ``blocks`` blocks ("contexts") of ``block_length`` steps.
Arm ``a`` pays ``r ~ N(mu_a, sd_a^2)``; the first block draws ``mu_a ~ U[mean_low,
mean_high]`` and ``sd_a ~ U[sd_low, sd_high]``, and at every later block boundary the whole
bandit is redrawn with probability ``switch_probability`` (else it carries on). The regret of
a step is ``max_a mu_a - mu_chosen`` (expected, not sampled, reward).

Two forms of the same bandit:

- :class:`VectorBandit`: ``S`` independent seeds as one numpy program (``step(actions[S])``);
  the instances (means, spreads, switches) of seed ``s`` come from its own random stream, so
  the same seed is the same bandit in any batch; the reward noise comes from the batch's own
  stream, one standard normal per seed and arm per step, so every agent run on the same batch
  meets the same noise (common random numbers).
- ``neurorl/NonStationaryBandit-v0``: a Gymnasium env of one seed. A bandit has no state; the
  observation is ``[previous action, previous reward]`` (``[-1, 0]`` after ``reset``), so that
  an agent behind an SB3-style ``predict(observation, state)`` sees its own feedback.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from neurorl.config import require


class Stream(IntEnum):
    """Random streams of a bandit seed (``np.random.SeedSequence([seed, STREAM])``)."""

    INSTANCE = 0  # means, spreads and switches of every block
    NOISE = 1  # reward noise of a batch


@dataclass(frozen=True)
class BanditSetting:
    """A family of non-stationary bandits (the paper's main setting by default)."""

    arms: int = 5
    blocks: int = 16
    block_length: int = 500  # steps per block
    switch_probability: float = 0.4  # the bandit is redrawn at a block boundary
    mean_low: float = -5.0
    mean_high: float = 5.0
    sd_low: float = 0.001
    sd_high: float = 2.0

    def __post_init__(self) -> None:
        require(self, "bandit", ["arms"], lambda v: v >= 2, ">= 2")
        require(self, "bandit", ["blocks", "block_length"], lambda v: v >= 1, ">= 1")
        require(self, "bandit", ["switch_probability"], lambda v: 0 <= v <= 1, "in [0, 1]")
        require(self, "bandit", ["sd_low"], lambda v: v >= 0, ">= 0")
        if self.mean_high < self.mean_low or self.sd_high < self.sd_low:
            raise ValueError(
                "bandit.mean_high and bandit.sd_high must be >= bandit.mean_low and "
                f"bandit.sd_low, got {self.mean_high} < {self.mean_low} or "
                f"{self.sd_high} < {self.sd_low}"
            )

    @property
    def steps(self) -> int:
        return self.blocks * self.block_length


# The paper's main setting (5 arms, 16 blocks x 500 steps, switch probability 0.4) and its
# 2-arm ablation (run_qr.py of the public code: 20 blocks x 5,000 steps, means U[-2, 2],
# spreads U[0.01, 1], switch probability 0.75).
SETTINGS = {
    "main": BanditSetting(),
    "two-arm": BanditSetting(
        arms=2,
        blocks=20,
        block_length=5000,
        switch_probability=0.75,
        mean_low=-2.0,
        mean_high=2.0,
        sd_low=0.01,
        sd_high=1.0,
    ),
}


def _rng(seed: int, stream: Stream) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(stream)]))


def draw_instance(setting: BanditSetting, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Means and spreads of every block of seed ``seed``: two ``[blocks, arms]`` arrays."""
    rng = _rng(seed, Stream.INSTANCE)
    shape = (setting.blocks, setting.arms)
    means = rng.uniform(setting.mean_low, setting.mean_high, shape)
    sds = rng.uniform(setting.sd_low, setting.sd_high, shape)
    switched = rng.random(setting.blocks) < setting.switch_probability
    switched[0] = True
    # block b uses the draw of the last block at or before b that switched
    source = np.maximum.accumulate(np.where(switched, np.arange(setting.blocks), 0))
    return means[source], sds[source]


class VectorBandit:
    """``S`` seeds of one bandit setting stepped as arrays ``[S]`` (see the module docstring).

    ``means``/``sds``: ``[S, blocks, arms]``; ``switches``: ``[S, blocks]``, True where block
    ``b > 0`` differs from block ``b - 1``.
    """

    def __init__(self, setting: BanditSetting, seeds: np.ndarray, noise_seed: int = 0) -> None:
        self.setting = setting
        self.seeds = np.asarray(seeds, dtype=np.int64)
        instances = [draw_instance(setting, int(s)) for s in self.seeds]
        self.means = np.stack([m for m, _ in instances])
        self.sds = np.stack([s for _, s in instances])
        self.switches = np.zeros(self.means.shape[:2], dtype=bool)
        self.switches[:, 1:] = (self.means[:, 1:] != self.means[:, :-1]).any(-1)
        self.best = self.means.max(-1)  # [S, blocks]
        self.noise_seed = noise_seed
        self.reset()

    @property
    def num_seeds(self) -> int:
        return len(self.seeds)

    def reset(self) -> None:
        """Back to step 0 with the batch's noise stream restarted."""
        self.t = 0
        self.noise = _rng(self.noise_seed, Stream.NOISE)

    @property
    def block(self) -> int:
        return self.t // self.setting.block_length

    @property
    def done(self) -> bool:
        return self.t >= self.setting.steps

    def current(self) -> tuple[np.ndarray, np.ndarray]:
        """This step's means and spreads, ``[S, arms]`` each."""
        return self.means[:, self.block], self.sds[:, self.block]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pull arm ``actions[s]`` in every seed: ``(rewards [S], regrets [S])``."""
        if self.done:
            raise RuntimeError("the bandit has played all its blocks; reset() it")
        means, sds = self.current()
        rows = np.arange(self.num_seeds)
        chosen = means[rows, actions]
        noise = self.noise.standard_normal((self.num_seeds, self.setting.arms))
        rewards = chosen + sds[rows, actions] * noise[rows, actions]
        regrets = self.best[:, self.block] - chosen
        self.t += 1
        return rewards, regrets


class NonStationaryBandit(gym.Env):
    """One seed of a :class:`BanditSetting` as a Gymnasium env (see the module docstring).

    ``reset(seed=k)`` plays bandit seed ``k`` (its instance and its own noise); the episode
    is truncated after ``blocks * block_length`` steps. ``info``: ``regret`` of the step,
    ``block`` and ``means`` (the arms' means of the block).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, setting: str | BanditSetting = "main", **overrides: Any) -> None:
        base = SETTINGS[setting] if isinstance(setting, str) else setting
        self.setting = dataclasses.replace(base, **overrides)
        arms, setting = self.setting.arms, self.setting
        self.action_space = gym.spaces.Discrete(arms)
        # rewards beyond 20 of the widest spread are clipped in the observation (never met)
        reach = 20.0 * setting.sd_high + 1.0
        self.observation_space = gym.spaces.Box(
            low=np.array([-1.0, setting.mean_low - reach], dtype=np.float32),
            high=np.array([arms - 1.0, setting.mean_high + reach], dtype=np.float32),
            dtype=np.float32,
        )
        self.bandit: VectorBandit | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        bandit_seed = int(self.np_random.integers(2**31)) if seed is None else seed
        self.bandit = VectorBandit(self.setting, np.array([bandit_seed]), noise_seed=bandit_seed)
        return np.array([-1.0, 0.0], dtype=np.float32), {"block": 0}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.bandit is None:
            raise RuntimeError("call reset() before step()")
        block, means = self.bandit.block, self.bandit.current()[0][0]
        rewards, regrets = self.bandit.step(np.array([int(action)]))
        observation = np.clip(
            np.array([int(action), rewards[0]], dtype=np.float32),
            self.observation_space.low,
            self.observation_space.high,
        )
        info = {"regret": float(regrets[0]), "block": block, "means": means.copy()}
        return observation, float(rewards[0]), False, self.bandit.done, info


gym.register(id="neurorl/NonStationaryBandit-v0", entry_point=NonStationaryBandit)
