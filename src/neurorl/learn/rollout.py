"""Episodes of a batched policy in a Gymnasium vector environment.

The policy acts for ``P`` parameter vectors on ``E`` episodes each as one tensor program per
environment step. Every (member, episode) pair has its own env and its own row of the batch
(the policy sees ``P E`` members with one env each, observations ``[P E, 1, obs_dim]``), and
a finished episode's row leaves the batch. The initial states come from one seed for all
envs together (drawn by the env's own vector implementation, e.g. CartPole's: all
different), or from one seed per env (e.g. the same seeds for every member: common random
numbers, so that members differ by their parameters, not by their luck). Each env counts its
first episode only: after it ends, the vector env's next-step autoreset still runs but its
rewards are masked out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from neurorl.envs import env_spaces
from neurorl.nets.policies import BatchedPolicy


def make_vector_env(
    env_id: str, num_envs: int, max_episode_steps: int | None = None, sync: bool = False
) -> gym.vector.VectorEnv:
    """A vectorised env: the env's own vector implementation when it has one (unless
    ``sync``: one env per seed), else sync; ``max_episode_steps`` replaces its time limit."""
    limit = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    if not sync:
        try:
            return gym.make_vec(
                env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **limit
            )
        except (gym.error.Error, ValueError, TypeError):
            pass
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **limit)


@dataclass
class RolloutResult:
    returns: np.ndarray  # [P, E] undiscounted return of each first episode
    lengths: np.ndarray  # [P, E] steps of each first episode
    spikes_per_decision: float  # mean over all decisions of live episodes
    undecided_fraction: float  # fraction of those decisions that were a tie or silence

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


@torch.no_grad()
def run_episodes(
    env_id: str,
    policy: BatchedPolicy,
    params: Tensor,
    episodes: int,
    seed: int | Sequence[int],
    generator: torch.Generator,
    step_limits: Sequence[int] | None = None,
) -> RolloutResult:
    """One episode per (member, episode) pair of ``params [P, D]``, all stepped together;
    ``seed``: one for all envs, or one per pair (member-major, ``P * episodes`` of them);
    ``step_limits``: each pair's time limit in env steps, in place of the env's own."""
    population = len(params)
    num_envs = population * episodes
    limits = None if step_limits is None else np.asarray(step_limits, dtype=np.int64)
    if limits is not None and limits.shape != (num_envs,):
        raise ValueError(f"{len(limits)} step limits for {num_envs} envs")
    longest = None if limits is None else int(limits.max())
    per_env_seeds = not isinstance(seed, int | np.integer)
    if per_env_seeds:
        if len(seed) != num_envs:
            raise ValueError(f"{len(seed)} seeds for {num_envs} envs")
        seed = list(seed)
    env = make_vector_env(env_id, num_envs, longest, sync=per_env_seeds)
    try:
        obs, _ = env.reset(seed=seed)
        returns = np.zeros(num_envs)
        lengths = np.zeros(num_envs, dtype=np.int64)
        alive = np.ones(num_envs, dtype=bool)
        actions = np.zeros(num_envs, dtype=np.int64)
        spikes = undecided = 0.0
        rows = params.repeat_interleave(episodes, dim=0)  # one network per env
        envs = np.arange(num_envs)  # the env of each row: finished episodes drop out
        state = policy.start(rows, 1)
        while alive.any():
            if not alive[envs].all():
                keep = np.flatnonzero(alive[envs])
                index = torch.as_tensor(keep, device=params.device)
                rows, envs, state = rows[index], envs[keep], policy.select(state, index)
            batch = torch.as_tensor(obs[envs], dtype=torch.float32, device=params.device)
            out, state = policy.act(batch[:, None], rows, state, generator)
            spikes += float(out.spikes.sum())
            undecided += float(out.undecided.sum())
            actions[envs] = out.actions[:, 0].cpu().numpy()
            obs, reward, terminated, truncated, _ = env.step(actions)
            returns += np.where(alive, reward, 0.0)
            lengths += alive
            alive &= ~(terminated | truncated)
            if limits is not None:
                alive &= lengths < limits
    finally:
        env.close()
    decisions = max(int(lengths.sum()), 1)
    return RolloutResult(
        returns.reshape(population, episodes),
        lengths.reshape(population, episodes),
        spikes / decisions,
        undecided / decisions,
    )


def evaluate_policy(
    env_id: str, policy: BatchedPolicy, params: Tensor, episodes: int, env_seed: int
) -> tuple[np.ndarray, dict[str, float]]:
    """Test returns ``[episodes]`` of one parameter vector ``[D]``, initial states drawn from
    ``env_seed`` (a fixed protocol: the tie-break stream depends on the seed only)."""
    generator = torch.Generator().manual_seed(int(env_seed) + 4)
    result = run_episodes(env_id, policy, params[None], episodes, env_seed, generator)
    stats = {
        "spikes_per_decision": result.spikes_per_decision,
        "undecided_fraction": result.undecided_fraction,
    }
    return result.returns[0], stats


PolicyFunction = Callable[[Tensor], tuple[Tensor, dict[str, Tensor]]]


@torch.no_grad()
def play_episodes(
    env_id: str, policy: PolicyFunction, episodes: int, seed: int
) -> tuple[np.ndarray, dict[str, float]]:
    """Returns ``[episodes]`` of ``policy(obs [E, obs_dim]) -> (actions [E, ...], costs per
    sample)`` on a vector env reset with ``seed`` (each env's first episode),
    and each cost's mean per decision as ``{name}_per_decision``."""
    env = make_vector_env(env_id, episodes)
    try:
        obs, _ = env.reset(seed=seed)
        returns = np.zeros(episodes)
        alive = np.ones(episodes, dtype=bool)
        costs: dict[str, float] = {}
        decisions = 0
        while alive.any():
            actions, cost = policy(torch.as_tensor(obs, dtype=torch.float32))
            live = torch.as_tensor(alive)
            for key, value in cost.items():
                costs[key] = costs.get(key, 0.0) + float(value.cpu()[live].sum())
            decisions += int(alive.sum())
            obs, reward, terminated, truncated, _ = env.step(actions.cpu().numpy())
            returns += np.where(alive, reward, 0.0)
            alive &= ~(terminated | truncated)
    finally:
        env.close()
    return returns, {f"{key}_per_decision": total / decisions for key, total in costs.items()}


def random_policy_returns(env_id: str, episodes: int, env_seed: int, seed: int) -> np.ndarray:
    """Test returns ``[episodes]`` of uniformly random actions from the test's initial states
    (drawn from ``env_seed``: the evaluation protocol's baseline); ``seed`` draws the actions."""
    _, space = env_spaces(env_id)
    space.seed(seed)

    def uniform(obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return torch.as_tensor(np.stack([space.sample() for _ in obs])), {}

    return play_episodes(env_id, uniform, episodes, env_seed)[0]
