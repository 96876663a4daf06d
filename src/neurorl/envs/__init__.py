"""Environments: Gymnasium's, looked up by id; an agent never depends on which one it acts in."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from neurorl.errors import ConfigError


def env_spaces(env_id: str) -> tuple[gym.Space, gym.Space]:
    """``(observation space, action space)`` of a Gymnasium env id; an unknown id is a
    :class:`ConfigError`."""
    try:
        probe = gym.make(env_id)
    except gym.error.Error as error:
        raise ConfigError(f"env_id '{env_id}' is not a Gymnasium environment ({error})") from None
    try:
        return probe.observation_space, probe.action_space
    finally:
        probe.close()


def discrete_env_spaces(env_id: str) -> tuple[int, int]:
    """``(observation size, number of actions)`` of a discrete-action Gymnasium env."""
    observation_space, action_space = env_spaces(env_id)
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ConfigError(
            f"this experiment needs a discrete action space; {env_id} has {action_space}"
        )
    return int(np.prod(observation_space.shape)), int(action_space.n)


# environments Gymnasium lacks, registered under the neurorl/ namespace when imported
from neurorl.envs import bandits, gridworld, nonstationary, worm  # noqa: E402, F401
