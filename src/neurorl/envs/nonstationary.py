"""Non-stationary classic control: CartPole whose physics switches between blocks of episodes.

``NonStationaryCartPole`` wraps ``CartPole-v1``: episodes come in blocks of
``episodes_per_block``; block ``b`` plays with ``parameter`` (``"length"``: the pole's half
length in m; ``"gravity"``: in m/s^2) set to ``values[b % len(values)]``. The switch is at a
``reset``, never inside an episode. ``info["block"]`` and ``info["parameter_value"]`` say which
world an episode is in. Registered as ``neurorl/NonStationaryCartPole-v0``.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

Parameter = Literal["length", "gravity"]


def set_cartpole_physics(cartpole: Any, parameter: Parameter, value: float) -> None:
    """``parameter`` of a CartPole (``CartPoleEnv`` or ``CartPoleVectorEnv``, every env of
    it) at ``value``: the pole's half length (m, with its mass-length product) or gravity
    (m/s^2)."""
    if parameter == "length":
        cartpole.length = value
        cartpole.polemass_length = cartpole.masspole * value
    else:
        cartpole.gravity = value


class NonStationaryCartPole(gym.Wrapper):
    def __init__(
        self,
        env: gym.Env | None = None,
        parameter: Parameter = "length",
        values: tuple[float, ...] = (0.5, 1.5),
        episodes_per_block: int = 20,
    ) -> None:
        if parameter not in ("length", "gravity"):
            raise ValueError(f"parameter must be 'length' or 'gravity', got {parameter!r}")
        if not values or min(values) <= 0:
            raise ValueError(f"values must be positive, got {values}")
        if episodes_per_block < 1:
            raise ValueError(f"episodes_per_block must be >= 1, got {episodes_per_block}")
        super().__init__(env if env is not None else gym.make("CartPole-v1"))
        if not isinstance(self.env.unwrapped, CartPoleEnv):
            raise ValueError("NonStationaryCartPole wraps a CartPole env")
        self.parameter, self.values = parameter, tuple(float(v) for v in values)
        self.episodes_per_block = episodes_per_block
        self.episode = -1

    @property
    def block(self) -> int:
        return max(self.episode, 0) // self.episodes_per_block

    @property
    def value(self) -> float:
        return self.values[self.block % len(self.values)]

    def _apply(self) -> None:
        set_cartpole_physics(self.env.unwrapped, self.parameter, self.value)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self.episode += 1
        self._apply()
        observation, info = self.env.reset(seed=seed, options=options)
        return observation, {**info, "block": self.block, "parameter_value": self.value}


gym.register(
    id="neurorl/NonStationaryCartPole-v0",
    entry_point=lambda **kwargs: NonStationaryCartPole(None, **kwargs),
    max_episode_steps=None,
)
