"""``cartpole-neuromod``: a spiking actor-critic whose plasticity acetylcholine sets and whose
action noise noradrenaline sets (:mod:`neurorl.learn.neuromod_actor_critic`), against the same
agent unmodulated, on a CartPole whose pole length (or gravity) switches between blocks of
episodes (``neurorl/NonStationaryCartPole-v0``'s schedule: block ``b`` plays
``values[b % len(values)]``). Lee et al. 2024's question carried to a spiking learner whose
world changes: does uncertainty-driven plasticity and noise re-adapt faster after a switch?

**Episodes to re-adapt** after a switch: the number ``n`` of episodes played since the switch
when the mean return of the last ``readapt.window`` of them first reaches ``readapt.level``
(``n >= window``); ``episodes_per_block + 1`` ("never") where that does not happen within
the block. Returns are CartPole-v1's (1 per step, at most ``max_episode_steps``); the agents
learn from Barto, Sutton & Anderson's reward, -1 at a failure and 0 otherwise (the same task).

How the study maps to the trainer contract (as ``bandit-neuromod``'s):

- **training = tuning.** ``train_step`` plays every combination of one agent's grid
  (:data:`AGENTS`) on the tuning seeds ``tuning.first_seed ...`` as one batch and keeps the
  combination with the fewest mean episodes to re-adapt (over every switch); ``params()`` is
  both agents' hyper-parameters as one flat vector.
- **evaluation = the test.** ``evaluate(params, episodes, env_seed)`` plays both agents on the
  ``episodes`` seeds ``env_seed ...`` (disjoint from the tuning seeds), as one batch whose rows
  are agent x seed. Returns: the headline agent's mean return over the run, per seed; the
  statistics (:func:`switch_summary`), per agent over every switch and over the switches to
  each value: the median and quartiles of episodes to re-adapt, the share never re-adapted,
  the return before and right after a switch (also where the agent was converged before).
- ``plots(folder, params)``: return around switches and the ACh, plasticity and NA traces.

Rows: a seed's initial states come from ``np.random.default_rng([seed, episode])`` and its
spike noise from ``stream(config.seed, Streams.SPIKES, seed, episode)`` (its reward noise from
``Streams.REWARD``), the same for every row of that seed (both agents, every combination of
a grid: common random numbers) and whatever other rows share the batch. Every row plays its
own episode ``k`` in lockstep with the others (all rows are in the same block).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from torch import Tensor

from neurorl.config import require
from neurorl.core import configure_cpu
from neurorl.envs.nonstationary import set_cartpole_physics
from neurorl.experiments.common import EvalConfig, TuningConfig, TuningTrainer
from neurorl.experiments.registry import Experiment, register
from neurorl.learn import neuromod_actor_critic as ac
from neurorl.learn.critics import FourierCritic, scale_to_unit
from neurorl.streams import stream

AgentName = Literal["modulated", "unmodulated"]
AGENT_NAMES: tuple[AgentName, ...] = ("modulated", "unmodulated")
START_SPREAD = 0.05  # CartPole's initial state: U(-0.05, 0.05) per dim


class Streams(IntEnum):
    SPIKES = 0  # a seed's spike noise, per episode
    REWARD = 1  # a seed's reward noise, per episode


@dataclass(frozen=True)
class AgentSpec:
    """``defaults``: hyper-parameters before tuning; ``grid``: every combination tuning tries."""

    defaults: dict[str, float]
    grid: dict[str, tuple[float, ...]]
    description: str


# Rows of both agents share every key: the unmodulated agent's modulators run (their traces
# are plotted) but set nothing.
SHARED = {"slow": 1e-3, "baseline": 1e-3}
AGENTS: dict[AgentName, AgentSpec] = {
    "modulated": AgentSpec(
        {
            **SHARED,
            "rate": 0.5,
            "temperature": 0.025,
            "noise_gain": 0.025,
            "gain_max": 2.0,
            "power": 1.0,
        },
        {
            "rate": (0.35, 0.5, 0.7, 1.0),
            "power": (1.0, -1.0),
            "noise_gain": (0.0, 0.025),
            "gain_max": (2.0, 4.0),
        },
        "ACh's gain g = clip(u / u_bar, 1 / gain_max, gain_max) (u = E / (E + A), u_bar its "
        "running mean) sets the plasticity rate x g^power; NA adds noise_gain x max(g - 1, 0) "
        "to the action temperature",
    ),
    "unmodulated": AgentSpec(
        {
            **SHARED,
            "rate": 0.5,
            "temperature": 0.025,
            "noise_gain": 0.0,
            "gain_max": 2.0,
            "power": 0.0,
        },
        {
            "rate": (0.06, 0.09, 0.12, 0.18, 0.25, 0.35, 0.5, 0.6, 0.7, 0.85, 1.0),
            "temperature": (0.02, 0.025, 0.035, 0.05),
        },
        "the same network, fixed plasticity rate and action noise",
    ),
}


@dataclass(frozen=True)
class WorldConfig:
    """The non-stationary CartPole: ``blocks`` blocks of ``episodes_per_block`` episodes,
    block ``b`` with ``parameter`` (``length``: the pole's half length in m; ``gravity``: in
    m/s^2) at ``values[b % len(values)]``."""

    parameter: Literal["length", "gravity"] = "length"
    values: tuple[float, ...] = (0.5, 3.0)
    episodes_per_block: int = 25
    blocks: int = 4
    max_episode_steps: int = 500
    # sd of Gaussian noise added to the agents' reward (-1 at a failure, else 0) at every
    # step: an aleatoric part that a learner's fixed rate must average out (the returns
    # that measure re-adaptation stay CartPole's)
    reward_noise: float = 0.0

    def __post_init__(self) -> None:
        require(self, "world", ("reward_noise",), lambda v: v >= 0, ">= 0")
        if self.parameter not in ("length", "gravity"):
            raise ValueError(
                f"world.parameter must be 'length' or 'gravity', got {self.parameter!r}"
            )
        if len(self.values) < 2 or min(self.values) <= 0:
            raise ValueError(f"world.values must be 2 or more positive values, got {self.values}")
        require(
            self, "world", ("episodes_per_block", "max_episode_steps"), lambda v: v >= 1, ">= 1"
        )
        require(self, "world", ("blocks",), lambda v: v >= 2, ">= 2 (a switch)")

    @property
    def episodes(self) -> int:
        return self.blocks * self.episodes_per_block

    def value(self, episode: int) -> float:
        return self.values[(episode // self.episodes_per_block) % len(self.values)]


@dataclass(frozen=True)
class AgentConfig:
    """What both agents share (:class:`neurorl.learn.neuromod_actor_critic.ActorCriticParams`)."""

    order: int = 3  # Fourier basis order ((order + 1)^4 features)
    # (x, x', theta, theta') in (m, m/s, rad, rad/s): the basis reads tanh(obs / scale) per dim,
    # fine near 0 (the long pole's slow swings) and compressed beyond (the short pole's fast ones)
    scales: tuple[float, ...] = (2.4, 2.0, 0.15, 1.0)
    gamma: float = 0.99
    lam: float = 0.8
    critic_scale: float = 1.0
    fast: float = 0.02  # rate per step of the fast moments of dopamine's error
    neurons: int = 10  # per motor population
    steps: int = 5  # LIF sub-steps per decision

    def __post_init__(self) -> None:
        require(self, "agent", ("order",), lambda v: 0 <= v <= 5, "in [0, 5]")
        require(self, "agent", ("neurons", "steps"), lambda v: v >= 1, ">= 1")
        require(self, "agent", ("gamma", "lam"), lambda v: 0 <= v <= 1, "in [0, 1]")
        require(self, "agent", ("fast",), lambda v: 0 < v <= 1, "in (0, 1]")
        require(self, "agent", ("critic_scale",), lambda v: v > 0, "> 0")
        if len(self.scales) != 4 or min(self.scales) <= 0:
            raise ValueError(
                f"agent.scales must be 4 positive values (x, x', theta, theta'), got {self.scales}"
            )


@dataclass(frozen=True)
class ReadaptConfig:
    window: int = 5  # episodes in the running mean
    level: float = 475.0  # CartPole-v1's "solved" return

    def __post_init__(self) -> None:
        require(self, "readapt", ("window",), lambda v: v >= 1, ">= 1")


@dataclass(frozen=True)
class NeuromodCartPoleConfig:
    seed: int = 0
    device: str = "cpu"
    env_id: str = "neurorl/NonStationaryCartPole-v0"
    world: WorldConfig = field(default_factory=WorldConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    readapt: ReadaptConfig = field(default_factory=ReadaptConfig)
    tuning: TuningConfig = field(default_factory=lambda: TuningConfig(seeds=5))
    headline: AgentName = "modulated"  # whose returns evaluate gives
    # the test: both agents on eval.episodes seeds from eval.env_seed
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(episodes=20, env_seed=5000))

    def __post_init__(self) -> None:
        if self.headline not in AGENT_NAMES:
            raise ValueError(f"headline must be one of {AGENT_NAMES}, got {self.headline!r}")
        if self.readapt.window > self.world.episodes_per_block:
            raise ValueError(
                f"readapt.window ({self.readapt.window}) must fit in a block "
                f"(world.episodes_per_block {self.world.episodes_per_block})"
            )
        self.tuning.check_apart_from(self.eval)


# --- the world ------------------------------------------------------------------------------------


def start_states(seeds: np.ndarray, episode: int) -> np.ndarray:
    """Each seed's initial state of ``episode`` ``[4, R]``, as CartPole draws them."""
    return np.stack(
        [
            np.random.default_rng([int(s), episode]).uniform(-START_SPREAD, START_SPREAD, 4)
            for s in seeds
        ],
        axis=1,
    )


# --- one batch of lifelong runs ---------------------------------------------------------------


@dataclass
class Run:
    """What a batch of rows did: per episode and row ``[episodes, R]``, the return, and the
    mean ACh, plasticity rate and action temperature over the episode's steps; the last
    state of every row of the batch."""

    returns: np.ndarray
    acetylcholine: np.ndarray
    rate: np.ndarray
    temperature: np.ndarray
    state: ac.ActorCriticState

    def rows(self, which: slice) -> Run:
        """The rows ``which`` of every per-episode array (the state stays the batch's)."""
        return Run(
            self.returns[:, which],
            self.acetylcholine[:, which],
            self.rate[:, which],
            self.temperature[:, which],
            self.state,
        )


class Features:
    """The Fourier features ``cos(pi c . x)`` of :class:`neurorl.learn.critics.FourierCritic`
    (its coefficients ``pi c``; its shared weights unused: each row here has its own) on the
    squashed observation ``tanh(obs / scales)`` mapped to ``x`` in [0, 1] per dim, scaled by
    ``1 / sqrt(F)``. The dot products are summed per row, not by a matrix product, so that a
    row's features do not depend on how many rows the batch holds."""

    def __init__(self, config: AgentConfig) -> None:
        unit = torch.ones(len(config.scales))
        self.basis = FourierCritic(config.order, -unit, unit, batch=1, gamma=0.0, lam=0.0, lr=0.0)
        self.scales = torch.tensor(config.scales, dtype=torch.float32)
        self.count = len(self.basis.coefficients)

    def __call__(self, obs: np.ndarray) -> Tensor:
        squashed = torch.tanh(torch.as_tensor(obs, dtype=torch.float32) / self.scales)
        x = scale_to_unit(squashed, self.basis.low, self.basis.high)
        products = (x[:, None, :] * self.basis.coefficients).sum(-1)
        return torch.cos(products) / self.count**0.5


def agent_params(
    config: NeuromodCartPoleConfig, hyper: dict[str, np.ndarray], modulated: np.ndarray
) -> ac.ActorCriticParams:
    """Per-row parameters from per-row ``hyper`` (rate, temperature, noise_gain, gain_max,
    slow, baseline)."""
    a = config.agent

    def row(name: str) -> Tensor:
        return torch.as_tensor(np.asarray(hyper[name], dtype=np.float32))

    return ac.ActorCriticParams(
        rate=row("rate"),
        critic_scale=torch.full_like(row("rate"), a.critic_scale),
        temperature=row("temperature"),
        noise_gain=row("noise_gain"),
        gain_max=np.asarray(hyper["gain_max"], dtype=np.float64),
        power=row("power"),
        modulated=torch.as_tensor(modulated, dtype=torch.bool),
        slow=np.asarray(hyper["slow"], dtype=np.float64),
        baseline=np.asarray(hyper["baseline"], dtype=np.float64),
        gamma=a.gamma,
        lam=a.lam,
        fast=a.fast,
        neurons=a.neurons,
        steps=a.steps,
    )


def play(
    config: NeuromodCartPoleConfig,
    seeds: np.ndarray,
    hyper: dict[str, np.ndarray],
    modulated: np.ndarray,
) -> Run:
    """Rows ``R`` (env seed, hyper-parameters, modulated or not) through every block; row
    ``r``'s numbers depend on its own seed and hyper-parameters only."""
    world, rows = config.world, len(seeds)
    features = Features(config.agent)
    params = agent_params(config, hyper, modulated)
    state = ac.initial_state(rows, 2, features.count)
    env = CartPoleVectorEnv(num_envs=rows, max_episode_steps=world.max_episode_steps)
    shape = (world.episodes, rows)
    returns, ach, rates, temperatures = (np.zeros(shape) for _ in range(4))
    width = ac.noise_width(params, 2)
    for episode in range(world.episodes):
        noise = torch.stack(
            [
                torch.rand(
                    world.max_episode_steps,
                    width,
                    generator=stream(config.seed, Streams.SPIKES, int(seed), episode),
                )
                for seed in seeds
            ],
            dim=1,
        )  # [steps, R, width]: each row its seed's own stream
        reward_noise = world.reward_noise * torch.stack(
            [
                torch.randn(
                    world.max_episode_steps,
                    generator=stream(config.seed, Streams.REWARD, int(seed), episode),
                )
                for seed in seeds
            ],
            dim=1,
        )  # [steps, R]
        set_cartpole_physics(env, world.parameter, world.value(episode))
        env.reset(seed=episode)
        env.state = start_states(seeds, episode)
        obs = env.state.T.astype(np.float32)
        state = ac.start_episode(state, torch.ones(rows, dtype=torch.bool))
        alive = np.ones(rows, dtype=bool)
        steps = np.zeros(rows)
        phi = features(obs)
        t = 0
        while alive.any():
            rate, temperature = ac.modulation(state, params)
            chosen, share = ac.act(phi, state, params, temperature, noise[t])
            obs, reward, terminated, truncated, _ = env.step(chosen.numpy())
            next_phi = features(obs)
            live = torch.as_tensor(alive, dtype=torch.float32)
            failure = torch.as_tensor(terminated, dtype=torch.float32)
            signal = -failure + reward_noise[t]  # what the agents learn from
            _, state = ac.learn(
                phi, next_phi, signal, failure, live, chosen, share, state, params, rate
            )
            ach[episode] += alive * ac.acetylcholine_of(state)
            rates[episode] += alive * rate.numpy()
            temperatures[episode] += alive * temperature.numpy()
            returns[episode] += alive * reward
            steps += alive
            alive &= ~(terminated | truncated)
            phi, t = next_phi, t + 1
        for trace in (ach, rates, temperatures):
            trace[episode] /= steps
    env.close()
    return Run(returns, ach, rates, temperatures, state)


def episodes_to_readapt(
    returns: np.ndarray, world: WorldConfig, readapt: ReadaptConfig
) -> np.ndarray:
    """Episodes to re-adapt ``[switches, R]`` (module docstring): ``episodes_per_block + 1``
    where the running mean never reaches the level within the block."""
    block, window = world.episodes_per_block, readapt.window
    found = np.full((world.blocks - 1, returns.shape[1]), block + 1.0)
    for switch in range(1, world.blocks):
        start = switch * block
        for n in range(block, window - 1, -1):  # the first n wins: scan from the last
            mean = returns[start + n - window : start + n].mean(0)
            found[switch - 1] = np.where(mean >= readapt.level, n, found[switch - 1])
    return found


def switch_episodes(world: WorldConfig) -> np.ndarray:
    """The first episode of every block after the first."""
    return np.arange(1, world.blocks) * world.episodes_per_block


def switch_summary(
    found: np.ndarray,
    returns: np.ndarray,
    config: NeuromodCartPoleConfig,
    which: np.ndarray,
    suffix: str,
) -> dict[str, float]:
    """Over the switches ``which`` (bool ``[switches]``) of every seed: their count, quartiles
    and mean of the episodes to re-adapt ``found [switches, S]``, the share never re-adapted,
    the mean return over the window before a switch and of the first episode after it, and
    that first return where the agent was converged (its window at the level) before."""
    world, window = config.world, config.readapt.window
    starts = switch_episodes(world)[which]
    found = found[which]
    before = np.stack([returns[s - window : s].mean(0) for s in starts])
    after = returns[starts]
    converged = before >= config.readapt.level
    q1, median, q3 = np.percentile(found, [25, 50, 75])
    return {
        f"switches_{suffix}": int(found.size),
        f"readapt_median_{suffix}": float(median),
        f"readapt_q1_{suffix}": float(q1),
        f"readapt_q3_{suffix}": float(q3),
        f"readapt_mean_{suffix}": float(found.mean()),
        f"never_share_{suffix}": float((found > world.episodes_per_block).mean()),
        f"return_before_switch_{suffix}": float(before.mean()),
        f"return_after_switch_{suffix}": float(after.mean()),
        f"converged_switches_{suffix}": int(converged.sum()),
        f"return_after_converged_switch_{suffix}": float(
            after[converged].mean() if converged.any() else np.nan
        ),
    }


# --- the trainer ---------------------------------------------------------------------------------


class NeuromodCartPoleTrainer(TuningTrainer):
    """Tunes each agent on the tuning seeds (one agent per ``train_step``), tests both on the
    test seeds (module docstring)."""

    def __init__(self, config: NeuromodCartPoleConfig) -> None:
        configure_cpu()
        self.config = config
        self.tuned = AGENT_NAMES
        self.hyper = {name: dict(AGENTS[name].defaults) for name in AGENT_NAMES}
        self.iteration = self.env_steps = self.episodes = 0
        self._study: tuple[tuple, dict[str, Any]] | None = None

    def _count(self, run: Run) -> None:
        self.env_steps += int(run.returns.sum())
        self.episodes += run.returns.size

    def train_step(self) -> dict[str, float]:
        """Every combination of the next agent's grid x every tuning seed, one batch."""
        name = AGENT_NAMES[self.iteration]
        spec, seeds = AGENTS[name], self.tuning_seeds()
        keys = list(spec.grid)
        combos = list(itertools.product(*(spec.grid[key] for key in keys)))
        hyper = {
            key: np.full(len(combos) * len(seeds), value) for key, value in spec.defaults.items()
        }
        for i, key in enumerate(keys):
            hyper[key] = np.repeat([combo[i] for combo in combos], len(seeds))
        rows = np.tile(seeds, len(combos))
        run = play(self.config, rows, hyper, np.full(len(rows), name == "modulated"))
        self._count(run)
        found = episodes_to_readapt(run.returns, self.config.world, self.config.readapt)
        means = found.reshape(-1, len(combos), len(seeds)).mean(axis=(0, 2))
        best = int(means.argmin())
        self.hyper[name].update(dict(zip(keys, combos[best], strict=True)))
        self.iteration += 1
        self._study = None
        return {
            "agent": AGENT_NAMES.index(name),
            "tuning_episodes_to_readapt": float(means[best]),
            "tuning_score": -float(means[best]),
        }

    # --- parameters: both agents' hyper-parameters ---------------------------------------------

    def _layout(self) -> list[tuple[str, str]]:
        return [(name, key) for name in AGENT_NAMES for key in sorted(AGENTS[name].defaults)]

    def params(self) -> Tensor:
        return torch.tensor([self.hyper[n][k] for n, k in self._layout()], dtype=torch.float64)

    def hyper_of(self, params: Tensor) -> dict[str, dict[str, float]]:
        hyper: dict[str, dict[str, float]] = {name: {} for name in AGENT_NAMES}
        for (name, key), value in zip(self._layout(), params.tolist(), strict=True):
            hyper[name][key] = value
        return hyper

    def state_dict(self) -> dict[str, Any]:
        return {
            "params": self.params(),
            "counters": [self.iteration, self.env_steps, self.episodes],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.hyper = self.hyper_of(state["params"])
        self.iteration, self.env_steps, self.episodes = (int(c) for c in state["counters"])
        self._study = None

    # --- the test ------------------------------------------------------------------------------

    def study(self, params: Tensor, episodes: int, env_seed: int) -> dict[str, Any]:
        """Both agents on the test seeds as one batch (cached for the same arguments):
        ``{"seeds", "runs": {agent: Run}, "readapt": {agent: [switches, S]}}``."""
        key = (tuple(params.tolist()), episodes, env_seed)
        if self._study is None or self._study[0] != key:
            seeds = env_seed + np.arange(episodes)
            hyper = self.hyper_of(params)
            rows = np.concatenate([seeds] * len(AGENT_NAMES))
            per_row = {
                key: np.repeat([hyper[name][key] for name in AGENT_NAMES], episodes)
                for key in hyper[AGENT_NAMES[0]]
            }
            modulated = np.repeat([name == "modulated" for name in AGENT_NAMES], episodes)
            run = play(self.config, rows, per_row, modulated)
            runs = {
                name: run.rows(slice(i * episodes, (i + 1) * episodes))
                for i, name in enumerate(AGENT_NAMES)
            }
            found = {
                name: episodes_to_readapt(r.returns, self.config.world, self.config.readapt)
                for name, r in runs.items()
            }
            self._study = (key, {"seeds": seeds, "runs": runs, "readapt": found})
        return self._study[1]

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        study = self.study(params, episodes, env_seed)
        world = self.config.world
        arriving = np.array([world.value(s) for s in switch_episodes(world)])
        stats: dict[str, Any] = {}
        for name in AGENT_NAMES:
            found, returns = study["readapt"][name], study["runs"][name].returns
            stats.update(
                switch_summary(found, returns, self.config, np.ones(len(arriving), bool), name)
            )
            stats[f"mean_return_{name}"] = float(returns.mean())
            for value in np.unique(arriving):
                which = arriving == value
                stats.update(
                    switch_summary(found, returns, self.config, which, f"{name}_to_{value:g}")
                )
        stats["hyper_parameters"] = self.hyper_of(params)
        stats["test_seeds"] = [env_seed, env_seed + episodes - 1]
        seeds = self.tuning_seeds()
        stats["tuning_seeds"] = [int(seeds[0]), int(seeds[-1])]
        return study["runs"][self.config.headline].returns.mean(0), stats

    def agent(self, params: Tensor, seed: int = 0) -> LifelongPolicy:
        """The headline agent as it stands after its run through every block on env seed
        ``seed`` (acting, no longer learning)."""
        name = self.config.headline
        hyper = {key: np.array([value]) for key, value in self.hyper_of(params)[name].items()}
        run = play(self.config, np.array([seed]), hyper, np.array([name == "modulated"]))
        params_row = agent_params(self.config, hyper, np.array([name == "modulated"]))
        return LifelongPolicy(run.state, params_row, Features(self.config.agent), seed)

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        from neurorl.analysis.neuromod_cartpole_plots import plot_switches

        e = self.config.eval
        study = self.study(params, e.episodes, e.env_seed)
        _, stats = self.evaluate(params, e.episodes, e.env_seed)
        return plot_switches(folder, study["runs"], stats, self.config.world)


class LifelongPolicy:
    """A learned spiking actor behind SB3's ``predict`` (its motor populations vote at the
    temperature its modulators last set)."""

    def __init__(
        self,
        state: ac.ActorCriticState,
        params: ac.ActorCriticParams,
        features: Features,
        seed: int,
    ) -> None:
        self.state, self.params, self.features = state, params, features
        _, self.temperature = ac.modulation(state, params)
        self.generator = torch.Generator().manual_seed(seed)

    def predict(
        self, observation: Any, state: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        rows = len(batch)
        agent = self.state._replace(actor=self.state.actor.expand(rows, -1, -1))
        with torch.no_grad():
            actions, _ = ac.act(
                self.features(batch),
                agent,
                self.params,
                self.temperature.expand(rows),
                ac.draw_noise(rows, self.params, 2, self.generator),
            )
        actions = actions.numpy()
        return (actions[0] if single else actions), state


def _config() -> NeuromodCartPoleConfig:
    return NeuromodCartPoleConfig()


register(
    Experiment(
        "cartpole-neuromod",
        "a spiking actor-critic (motor populations of escape-noise LIF neurons) whose "
        "plasticity ACh and whose action noise NA set, against the same agent unmodulated, on "
        "a CartPole whose pole's half length switches 0.5 <-> 3 m every 25 episodes",
        _config,
        NeuromodCartPoleTrainer,
    )
)
