"""The Gymnasium faces of the worm plate: one plate (:class:`WormPlate`) and many plates as
one array program (:class:`WormPlateVectorEnv`, next-step autoreset as Gymnasium's own
vector envs)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from neurorl.envs.worm.plate import PlateConfig, WormPlateBatch
from neurorl.envs.worm.render import render_frame


def _config(config: PlateConfig | None, overrides: dict[str, Any]) -> PlateConfig:
    return dataclasses.replace(config or PlateConfig(), **overrides)


def _spaces(config: PlateConfig) -> tuple[gym.spaces.Box, gym.spaces.Discrete]:
    low, high = config.observation_bounds()
    return gym.spaces.Box(low, high, dtype=np.float32), gym.spaces.Discrete(2)


class WormPlate(gym.Env):
    """One worm on a plate; action 0 = light off, 1 = on (Li et al. 2024's task).

    ``gym.make("neurorl/WormPlate-v0", line="aiy", episode_seconds=600.0)``: keyword
    arguments are fields of :class:`PlateConfig`. ``info`` holds the distance to the target
    (cm), the time (s) and whether the target was reached. ``render()`` draws the plate (with
    its obstacles and food patch, if any), the worm's path, its body (3x life size, to be
    visible), the target and the light; ``gymnasium.wrappers.RecordVideo`` makes videos of
    it (needs moviepy: :mod:`neurorl.envs.worm.video`).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 3}

    def __init__(
        self, config: PlateConfig | None = None, render_mode: str | None = None, **overrides: Any
    ) -> None:
        self.config = _config(config, overrides)
        self.observation_space, self.action_space = _spaces(self.config)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self.config.decision_rate_hz}
        self.batch = WormPlateBatch(self.config, 1)
        self.path: list[tuple[float, float]] = []

    def _info(self, reached: bool = False) -> dict[str, Any]:
        return {
            "distance_cm": float(self.batch.distance()[0]),
            "time_s": float(self.batch.steps[0] * self.config.dt),
            "reached": bool(reached),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """A fresh worm and target; ``options={"target": (x, y)}`` fixes the target (cm)."""
        super().reset(seed=seed)
        target = None if not options or "target" not in options else np.array([options["target"]])
        if target is not None and np.hypot(*target[0]) >= self.config.plate_radius_cm:
            raise ValueError(f"target {tuple(target[0])} cm is outside the plate")
        obs = self.batch.reset(self.np_random, target=target)
        self.path = [(float(self.batch.worms.x[0]), float(self.batch.worms.y[0]))]
        return obs[0], self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, reached, timed_out = self.batch.step(np.array([action]), self.np_random)
        self.path.append((float(self.batch.worms.x[0]), float(self.batch.worms.y[0])))
        terminated = bool(reached[0]) and self.config.terminate_on_success
        return obs[0], float(reward[0]), terminated, bool(timed_out[0]), self._info(reached[0])

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return render_frame(self.batch, 0, np.array(self.path))


class WormPlateVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` plates stepped as one numpy program (next-step autoreset: the step after
    an episode ends resets that plate and ignores its action)."""

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, config: PlateConfig | None = None, **overrides: Any):
        self.config = _config(config, overrides)
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = _spaces(self.config)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.batch = WormPlateBatch(self.config, num_envs)
        self.ended = np.zeros(num_envs, dtype=bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.ended[:] = False
        return self.batch.reset(self.np_random), {}

    def step(self, actions: np.ndarray):
        obs, reward, reached, timed_out = self.batch.step(actions, self.np_random)
        terminated = reached & self.config.terminate_on_success
        truncated = timed_out & ~terminated
        if self.ended.any():
            obs = self.batch.reset(self.np_random, mask=self.ended)
            reward = np.where(self.ended, 0.0, reward).astype(np.float32)
            terminated, truncated = terminated & ~self.ended, truncated & ~self.ended
        self.ended = terminated | truncated
        info = {"distance_cm": self.batch.distance(), "reached": reached}
        return obs, reward, terminated, truncated, info
