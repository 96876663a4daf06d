"""Environments: Gymnasium's, looked up by id; an agent never depends on which one it acts in."""

from __future__ import annotations

import gymnasium as gym

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
