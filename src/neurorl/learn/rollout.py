"""Episodes of a batched policy in a Gymnasium vector environment.

The policy acts for ``P`` parameter vectors on ``E`` episodes each as one tensor program per
environment step. Every (member, episode) pair has its own env and its own row of the batch
(the policy sees ``P E`` members with one env each, observations ``[P E, 1, obs_dim]``), and
a finished episode's row leaves the batch. The initial states come from one seed for all
envs together (drawn by the env's own vector implementation, e.g. CartPole's: all
different), or from one seed per env (e.g. the same seeds for every member: common random
numbers, so that members differ by their parameters, not by their luck). Each env counts its
first episode only: with one seed, the vector env's next-step autoreset still runs after it
ends but its rewards are masked out; with one seed per env (:class:`FirstEpisodes`), a
finished env is not stepped again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from neurorl.envs import env_spaces
from neurorl.nets.policies import BatchedPolicy


def _time_limit(max_episode_steps: int | None) -> dict[str, int]:
    return {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}


def make_vector_env(
    env_id: str, num_envs: int, max_episode_steps: int | None = None
) -> gym.vector.VectorEnv:
    """A vectorised env: the env's own vector implementation when it has one, else sync;
    ``max_episode_steps`` replaces its time limit."""
    limit = _time_limit(max_episode_steps)
    try:
        return gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **limit
        )
    except (gym.error.Error, ValueError, TypeError):
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **limit)


class FirstEpisodes:
    """``num_envs`` envs (``max_episode_steps``: each env's time limit in place of the env's
    own), each playing its first episode only, from one seed per env (``reset(seed=[...])``,
    as a sync vector env takes them): ``step`` steps the envs whose episode still runs (a
    finished one returns its last observation, reward 0 and no end again), so a rollout's
    long last episodes do not pay for the finished ones, as a sync vector env's autoresets
    would. ``reset`` and ``step`` return batched arrays as a vector env does."""

    def __init__(self, env_id: str, num_envs: int, max_episode_steps: Sequence[int] | None = None):
        limits = [None] * num_envs if max_episode_steps is None else max_episode_steps
        if len(limits) != num_envs:
            raise ValueError(f"{len(limits)} time limits for {num_envs} envs")
        self.envs = [gym.make(env_id, **_time_limit(limit)) for limit in limits]
        self.running = np.ones(num_envs, dtype=bool)
        self.obs: np.ndarray | None = None

    def reset(self, seed: Sequence[int]) -> tuple[np.ndarray, dict]:
        if len(seed) != len(self.envs):
            raise ValueError(f"{len(seed)} seeds for {len(self.envs)} envs")
        starts = [env.reset(seed=int(s))[0] for env, s in zip(self.envs, seed, strict=True)]
        self.obs = np.stack(starts)
        self.running[:] = True
        return self.obs.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        reward = np.zeros(len(self.envs))
        terminated = np.zeros(len(self.envs), dtype=bool)
        truncated = np.zeros(len(self.envs), dtype=bool)
        for i in np.flatnonzero(self.running):
            self.obs[i], reward[i], terminated[i], truncated[i], _ = self.envs[i].step(actions[i])
        self.running &= ~(terminated | truncated)
        return self.obs.copy(), reward, terminated, truncated, {}

    def close(self) -> None:
        for env in self.envs:
            env.close()


@dataclass
class RolloutResult:
    returns: np.ndarray  # [P, E] undiscounted return of each first episode
    lengths: np.ndarray  # [P, E] steps of each first episode
    spikes_per_decision: float  # mean over all decisions of live episodes
    undecided_fraction: float  # fraction of those decisions that were a tie or silence

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


@dataclass(frozen=True)
class EpisodeGroup:
    """The episodes of one set of parameter vectors ``params [P, D]``, ``episodes`` each:
    their initial states (``seed``: one for all their envs, or one per (member, episode)
    pair, member-major), the stream of the policy's own draws (``generator``) and each
    pair's time limit in env steps (``step_limits``, in place of the env's own)."""

    params: Tensor
    episodes: int
    seed: int | Sequence[int]
    generator: torch.Generator
    step_limits: Sequence[int] | None = None

    @property
    def num_envs(self) -> int:
        return len(self.params) * self.episodes


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
    group = EpisodeGroup(params, episodes, seed, generator, step_limits)
    return run_episode_groups(env_id, policy, [group])[0]


def _group_env(env_id: str, group: EpisodeGroup) -> FirstEpisodes | gym.vector.VectorEnv:
    """The envs of one group: one seed per env, or one seed for a vector env of all."""
    limits = group.step_limits
    if limits is not None and len(limits) != group.num_envs:
        raise ValueError(f"{len(limits)} step limits for {group.num_envs} envs")
    if not isinstance(group.seed, int | np.integer):
        return FirstEpisodes(env_id, group.num_envs, None if limits is None else list(limits))
    return make_vector_env(env_id, group.num_envs, None if limits is None else int(max(limits)))


@torch.no_grad()
def run_episode_groups(
    env_id: str, policy: BatchedPolicy, groups: Sequence[EpisodeGroup]
) -> list[RolloutResult]:
    """The episodes of several groups (e.g. several seeds' generations) as one tensor program
    per env step: each group has its own envs and draws from its own ``generator`` (the
    rows of one group act on consecutive rows of the policy, in order), so its result is
    the one :func:`run_episodes` gives for it alone. ``policy`` runs the rows of all groups
    one after the other (e.g. a stack of networks, each running its group's rows)."""
    sizes = [group.num_envs for group in groups]
    bounds = np.cumsum([0, *sizes]).tolist()
    parts = [slice(start, stop) for start, stop in itertools.pairwise(bounds)]  # envs of each
    num_envs = bounds[-1]
    limits = np.concatenate(
        [
            np.full(n, np.iinfo(np.int64).max)
            if group.step_limits is None
            else np.asarray(group.step_limits, dtype=np.int64)
            for group, n in zip(groups, sizes, strict=True)
        ]
    )
    group_of_env = np.repeat(np.arange(len(groups)), sizes)
    envs_of: list[FirstEpisodes | gym.vector.VectorEnv] = []
    try:
        for group in groups:
            envs_of.append(_group_env(env_id, group))
        obs = np.concatenate(
            [env.reset(seed=group.seed)[0] for env, group in zip(envs_of, groups, strict=True)]
        )
        returns = np.zeros(num_envs)
        lengths = np.zeros(num_envs, dtype=np.int64)
        alive = np.ones(num_envs, dtype=bool)
        actions = np.zeros(num_envs, dtype=np.int64)
        spikes, undecided = np.zeros(len(groups)), np.zeros(len(groups))
        rows = torch.cat([g.params.repeat_interleave(g.episodes, dim=0) for g in groups])
        envs = np.arange(num_envs)  # the env of each row: finished episodes drop out
        state = policy.start(rows, 1)
        device = rows.device
        while alive.any():
            if not alive[envs].all():
                keep = np.flatnonzero(alive[envs])
                index = torch.as_tensor(keep, device=device)
                rows, envs, state = rows[index], envs[keep], policy.select(state, index)
            batch = torch.as_tensor(obs[envs], dtype=torch.float32, device=device)
            row_groups = group_of_env[envs]
            generator: torch.Generator | list[torch.Generator] = (
                groups[0].generator
                if len(groups) == 1
                else [groups[k].generator for k in row_groups]
            )
            out, state = policy.act(batch[:, None], rows, state, generator)
            # each group's rows are consecutive: its sums are its own run's
            cut = np.searchsorted(row_groups, np.arange(len(groups) + 1)).tolist()
            for k in np.unique(row_groups):
                spikes[k] += float(out.spikes[cut[k] : cut[k + 1]].sum())
                undecided[k] += float(out.undecided[cut[k] : cut[k + 1]].sum())
            actions[envs] = out.actions[:, 0].cpu().numpy()
            for env, part in zip(envs_of, parts, strict=True):
                live = alive[part]  # a view: ended episodes leave it in place
                if not live.any():
                    continue
                obs[part], reward, terminated, truncated, _ = env.step(actions[part])
                returns[part] += np.where(live, reward, 0.0)
                lengths[part] += live
                live &= ~(terminated | truncated)
            alive &= lengths < limits
    finally:
        for env in envs_of:
            env.close()
    results = []
    for k, (group, part) in enumerate(zip(groups, parts, strict=True)):
        decisions = max(int(lengths[part].sum()), 1)
        results.append(
            RolloutResult(
                returns[part].reshape(len(group.params), group.episodes),
                lengths[part].reshape(len(group.params), group.episodes),
                spikes[k] / decisions,
                undecided[k] / decisions,
            )
        )
    return results


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
    env_id: str,
    policy: PolicyFunction,
    episodes: int,
    seed: int,
    max_episode_steps: int | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Returns ``[episodes]`` of ``policy(obs [E, obs_dim]) -> (actions [E, ...], costs per
    sample)`` on a vector env reset with ``seed`` (each env's first episode; its time limit
    ``max_episode_steps`` where given), and each cost's mean per decision as
    ``{name}_per_decision``."""
    env = make_vector_env(env_id, episodes, max_episode_steps)
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


def random_policy_returns(
    env_id: str, episodes: int, env_seed: int, seed: int, max_episode_steps: int | None = None
) -> np.ndarray:
    """Test returns ``[episodes]`` of uniformly random actions from the test's initial states
    (drawn from ``env_seed``: the evaluation protocol's baseline, under the experiment's time
    limit ``max_episode_steps`` where it sets one); ``seed`` draws the actions."""
    _, space = env_spaces(env_id)
    space.seed(seed)

    def uniform(obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return torch.as_tensor(np.stack([space.sample() for _ in obs])), {}

    return play_episodes(env_id, uniform, episodes, env_seed, max_episode_steps)[0]
