"""Episodes of a batched policy in a Gymnasium vector environment.

The policy acts on observations ``[P, E, obs_dim]`` (P population members, E episodes each)
and returns actions ``[P, E]``; every member's episodes start from different initial states
(env ``i`` is reset with seed ``seed + i``). Each env counts its first episode only: after it
ends, the env's next-step autoreset still runs but its rewards are masked out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

BatchedPolicy = Callable[[Tensor], Tensor]


def make_vector_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """A vectorised env: the env's own vector implementation when it has one, else sync."""
    try:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    except (gym.error.Error, ValueError, TypeError):
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")


@dataclass
class RolloutResult:
    returns: np.ndarray  # [P, E] undiscounted return of each first episode
    lengths: np.ndarray  # [P, E] steps of each first episode

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


def run_episodes(
    env_id: str, policy: BatchedPolicy, population: int, episodes: int, seed: int, device: str = "cpu"
) -> RolloutResult:
    """One episode per (member, episode) pair, all stepped together."""
    num_envs = population * episodes
    env = make_vector_env(env_id, num_envs)
    try:
        obs, _ = env.reset(seed=seed)
        returns = np.zeros(num_envs)
        lengths = np.zeros(num_envs, dtype=np.int64)
        alive = np.ones(num_envs, dtype=bool)
        while alive.any():
            batch = torch.as_tensor(obs, dtype=torch.float32, device=device).view(population, episodes, -1)
            actions = policy(batch).reshape(num_envs).cpu().numpy()
            obs, reward, terminated, truncated, _ = env.step(actions)
            returns += np.where(alive, reward, 0.0)
            lengths += alive
            alive &= ~(terminated | truncated)
    finally:
        env.close()
    return RolloutResult(returns.reshape(population, episodes), lengths.reshape(population, episodes))
