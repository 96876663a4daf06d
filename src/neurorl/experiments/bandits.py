"""``bandit-neuromod``: Lee et al. 2024's comparison of neuromodulated and classic bandit agents
on non-stationary Gaussian bandits, and neurorl's own adaptive agent beside them.

How the study maps to the trainer contract:

- **training = tuning.** ``train_step`` grid-searches the hyper-parameters of one tunable agent
  (the grids are in :data:`AGENTS`) on the *tuning* seeds ``tuning.first_seed ...
  + tuning.seeds - 1`` and keeps the combination with the lowest mean final cumulative regret;
  ``budget`` is the number of tunable agents. ``params()`` is every agent's hyper-parameters
  as one flat vector (defaults until tuned), so ``best.pt`` holds the tuned agents.
- **evaluation = the test.** ``evaluate(params, episodes, env_seed)`` plays every agent on the
  same ``episodes`` bandit seeds ``env_seed ... env_seed + episodes - 1`` (disjoint from the
  tuning seeds: the config refuses an overlap), one array program per agent. The returns are
  minus the final cumulative regret of ``headline`` per seed; the statistics hold every
  agent's mean final regret, the one-way ANOVA over agents and Tukey's HSD p-values of every
  agent against each of ``references`` (``scipy.stats.tukey_hsd``).
- ``plots(folder, params)`` writes the study's figures (cumulative regret, regret aligned to
  switches, learning-rate and temperature traces around switches) and ``study.md`` (the
  table) from the same test seeds.
- ``agent(params, seed)`` is ``headline`` behind ``predict`` for ``neurorl/NonStationaryBandit-v0``
  (whose observation is the previous action and reward).

A seed's bandit (means, spreads, switches) comes from its own stream; the reward noise of a
batch from ``seed`` (the run's), identical for every agent; each agent draws its own actions
from ``stream(seed, AGENT_DRAWS, agent index)``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neurorl.config import require
from neurorl.envs.bandits import SETTINGS, BanditSetting, VectorBandit
from neurorl.experiments.common import EvalConfig, TuningConfig, TuningTrainer
from neurorl.experiments.registry import Experiment, register
from neurorl.learn import bandit_agents as agents
from neurorl.learn.bandit_agents import BanditAgent
from neurorl.learn.spiking_bandit import SpikingBanditAgent
from neurorl.streams import seed_of, stream


class Streams(IntEnum):
    AGENT_DRAWS = 0  # an agent's own action draws, one stream per agent index
    NOISE = 1  # the reward noise of a batch (shared by every agent)


@dataclass(frozen=True)
class AgentSpec:
    """How to build an agent: ``make(seeds, arms, rng, truth, **hyper)``; ``defaults``: its
    hyper-parameters before tuning (the paper's or the textbook's); ``grid``: the values that
    tuning tries (every combination); ``outer``: grid keys that cannot vary per seed (sizes of
    buffers), looped over instead of batched."""

    make: Callable[..., BanditAgent]
    defaults: dict[str, float] = field(default_factory=dict)
    grid: dict[str, tuple[float, ...]] = field(default_factory=dict)
    outer: tuple[str, ...] = ()
    description: str = ""


def _doya_dayu(rules: agents.DoyaDaYuRules) -> Callable[..., BanditAgent]:
    def make(seeds, arms, rng, truth, members: float, mask_probability: float) -> BanditAgent:
        return agents.DoyaDaYu(
            seeds, arms, rng, int(members), mask_probability, rules=rules, truth=truth
        )

    return make


def _plain(cls: type[BanditAgent], **fixed: Any) -> Callable[..., BanditAgent]:
    def make(seeds, arms, rng, truth, **hyper: float) -> BanditAgent:
        return cls(seeds, arms, rng, **fixed, **hyper)

    return make


def _windowed(cls: type[BanditAgent]) -> Callable[..., BanditAgent]:
    def make(seeds, arms, rng, truth, window: float, **hyper: float) -> BanditAgent:
        return cls(seeds, arms, rng, window=int(window), **hyper)

    return make


LINSPACE = tuple(round(float(x), 2) for x in np.linspace(0.1, 1.0, 10))
GAMMAS = (0.99, 0.999, 0.9999)
BONUSES = (0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
ENSEMBLE = {"members": 20.0, "mask_probability": 0.5}
ORACLE_TEXT = agents.DoyaDaYuRules(aleatoric="oracle_variance")
ORACLE_CODE = dataclasses.replace(agents.CODE, aleatoric="oracle_mean_sd")
FULL_ORACLE = agents.DoyaDaYuRules(epistemic="oracle", aleatoric="oracle_variance")

SPIKING_TRACKER = {"drift": 0.25, "threshold": 32.0, "volatility": 0.0, "variance_pulls": 20}

AGENTS: dict[str, AgentSpec] = {
    "adaptive": AgentSpec(
        _doya_dayu(agents.TEXT), ENSEMBLE, description="Doya-DaYu as the paper's text states"
    ),
    "adaptive-code": AgentSpec(
        _doya_dayu(agents.CODE), ENSEMBLE, description="Doya-DaYu as the public code runs"
    ),
    "adaptive-oracle": AgentSpec(
        _doya_dayu(ORACLE_TEXT), ENSEMBLE, description="text form, true variance as A"
    ),
    "adaptive-code-oracle": AgentSpec(
        _doya_dayu(ORACLE_CODE), ENSEMBLE, description="code form, true mean spread as A"
    ),
    "adaptive-full-oracle": AgentSpec(
        _doya_dayu(FULL_ORACLE), ENSEMBLE, description="text form, true A and true E"
    ),
    "boltzmann": AgentSpec(
        _plain(agents.Boltzmann),
        {"temperature": 0.7, "learning_rate": 0.2},
        {"temperature": LINSPACE, "learning_rate": LINSPACE},
        description="fixed T and lr (grid of the public code)",
    ),
    "epsilon-greedy": AgentSpec(
        _plain(agents.EpsilonGreedy),
        {"epsilon": 0.05, "learning_rate": 0.2},
        {"epsilon": (0.01, 0.02, 0.05, 0.1, 0.2), "learning_rate": LINSPACE},
    ),
    "ducb": AgentSpec(
        _plain(agents.DiscountedUCB, variant="textbook"),
        {"gamma": 0.99, "bonus": 1.0},
        {"gamma": GAMMAS, "bonus": BONUSES},
        description="discounted UCB, every arm discounted (Garivier & Moulines)",
    ),
    "ducb-code": AgentSpec(
        _plain(agents.DiscountedUCB, variant="code"),
        {"gamma": 0.9999, "bonus": 0.9, "learning_rate": 0.1},
        {"gamma": GAMMAS, "bonus": (0.1, 0.5, 0.9, 2.0, 5.0), "learning_rate": (0.1, 0.2, 0.5)},
        description="discounted UCB of the public code (pulled arm's count only)",
    ),
    "swucb": AgentSpec(
        _windowed(agents.SlidingWindowUCB),
        {"window": 200.0, "bonus": 1.0},
        {"window": (50.0, 100.0, 200.0, 500.0, 1000.0), "bonus": BONUSES},
        outer=("window",),
        description="sliding-window UCB",
    ),
    "discounted-thompson": AgentSpec(
        _plain(agents.DiscountedThompson),
        {"gamma": 0.99, "noise_sd": 1.0},
        {"gamma": (0.9, 0.95, 0.99, 0.999), "noise_sd": (0.0625, 0.125, 0.25, 0.5, 1.0, 2.0)},
        description="Gaussian Thompson sampling on discounted statistics",
    ),
    "m-ucb": AgentSpec(
        _windowed(agents.MonitoredUCB),
        {"window": 50.0, "threshold": 20.0, "bonus": 1.0},
        {"window": (20.0, 50.0, 100.0), "threshold": (5.0, 10.0, 20.0, 40.0), "bonus": BONUSES},
        outer=("window",),
        description="monitored UCB: change detection on each arm's last rewards",
    ),
    "neuromod": AgentSpec(
        _plain(agents.NeuromodulatedAgent),
        {
            "drift": 0.25,
            "threshold": 32.0,
            "noise_scale": 1.0,
            "volatility": 1e-4,
            "variance_pulls": 10.0,
        },
        {
            "drift": (0.25, 0.5),
            "threshold": (16.0, 32.0, 64.0),
            "noise_scale": (0.5, 1.0),
            "volatility": (0.0, 1e-4, 1e-3),
            "variance_pulls": (5.0, 20.0),
        },
        description="neurorl: Kalman ACh, Thompson NA, CUSUMs on dopamine's errors",
    ),
    # the spiking agents (not in the default study: ~10x slower than the others); the
    # modulated one's tracker keeps neuromod's change detector
    "spiking": AgentSpec(
        _plain(SpikingBanditAgent, modulated=True, **SPIKING_TRACKER),
        {"temperature": 0.2, "noise_gain": 1.0},
        {"temperature": (0.05, 0.2), "noise_gain": (0.5, 1.0, 2.0)},
        description="motor populations of escape-noise LIF neurons, ACh plasticity, NA noise",
    ),
    "spiking-unmodulated": AgentSpec(
        _plain(SpikingBanditAgent, modulated=False),
        {"temperature": 0.2, "learning_rate": 0.1},
        {"temperature": (0.1, 0.2, 0.5, 1.0), "learning_rate": (0.05, 0.1, 0.2, 0.5)},
        description="the same network, fixed plasticity rate and action noise",
    ),
}
SPIKING = ("spiking", "spiking-unmodulated")


@dataclass(frozen=True)
class AdaptiveConfig:
    """The ensemble of Lee et al. 2024's adaptive agent."""

    members: int = 20
    mask_probability: float = 0.5

    def __post_init__(self) -> None:
        require(self, "adaptive", ["members"], lambda v: v >= 2, ">= 2")
        require(self, "adaptive", ["mask_probability"], lambda v: 0 < v <= 1, "in (0, 1]")


@dataclass(frozen=True)
class BanditStudyConfig:
    seed: int = 0
    device: str = "cpu"
    env_id: str = "neurorl/NonStationaryBandit-v0"
    bandit: BanditSetting = field(default_factory=BanditSetting)
    agents: tuple[str, ...] = tuple(name for name in AGENTS if name not in SPIKING)
    headline: str = "neuromod"  # whose regret the returns hold
    references: tuple[str, ...] = ("adaptive", "adaptive-code", "neuromod")
    adaptive: AdaptiveConfig = field(default_factory=AdaptiveConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    window: int = 100  # steps before and after a switch in the aligned traces
    workers: int = 1  # processes that play the test's agents (each agent in one process)
    # the test: eval.episodes bandit seeds from eval.env_seed (the paper's 210)
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(episodes=210, env_seed=42))

    def __post_init__(self) -> None:
        unknown = [a for a in (*self.agents, self.headline, *self.references) if a not in AGENTS]
        if unknown:
            raise ValueError(f"agents must be among {', '.join(AGENTS)}, got {unknown[0]!r}")
        if self.headline not in self.agents or not set(self.references) <= set(self.agents):
            raise ValueError("headline and references must be among the study's agents")
        if self.window < 1 or self.workers < 1:
            raise ValueError(
                f"window and workers must be >= 1, got {self.window} and {self.workers}"
            )
        self.tuning.check_apart_from(self.eval)


@dataclass
class Traces:
    """What one agent did on a batch of seeds. ``final``: cumulative regret per seed [S];
    ``mean_regret``: regret per step averaged over seeds [T]; ``aligned``: {signal: [2W]} of
    regret, learning rate and temperature averaged over every switch of every seed, steps
    ``-W .. W-1`` around the switch."""

    final: np.ndarray
    mean_regret: np.ndarray
    aligned: dict[str, np.ndarray]


def play(
    agent_factory: Callable[[VectorBandit], BanditAgent], bandit: VectorBandit, window: int
) -> Traces:
    """Run one agent on every seed of ``bandit`` to the end."""
    bandit.reset()
    agent = agent_factory(bandit)
    setting, seeds = bandit.setting, bandit.num_seeds
    window = min(window, setting.block_length // 2)
    total, mean_regret = np.zeros(seeds), np.zeros(setting.steps)
    sums: dict[str, np.ndarray] = {}
    switches = max(int(bandit.switches.sum()), 1)
    while not bandit.done:
        t = bandit.t
        actions = agent.act()
        signals = agent.signals()
        rewards, regrets = bandit.step(actions)
        agent.update(actions, rewards)
        total += regrets
        mean_regret[t] = regrets.mean()
        boundary = (t + window) // setting.block_length  # the nearest block start at or after
        offset = t - boundary * setting.block_length + window
        if 1 <= boundary < setting.blocks and offset < 2 * window:
            switched = bandit.switches[:, boundary]
            for name, values in {"regret": regrets, **signals}.items():
                row = sums.setdefault(name, np.zeros(2 * window))
                row[offset] += float(np.sum(values * switched))
    aligned = {name: row / switches for name, row in sums.items()}
    return Traces(total, mean_regret, aligned)


def readaptation(
    agent_factory: Callable[[VectorBandit], BanditAgent],
    bandit: VectorBandit,
    window: int = 20,
    level: float = 0.8,
) -> np.ndarray:
    """Steps after each switch (of every seed) until the best arm's share of the last
    ``window`` pulls first reaches ``level`` (the block's length where it never does)."""
    bandit.reset()
    agent = agent_factory(bandit)
    setting, rows = bandit.setting, np.arange(bandit.num_seeds)
    recent = np.zeros((window, bandit.num_seeds))
    found = np.full((bandit.num_seeds, setting.blocks), setting.block_length, dtype=float)
    while not bandit.done:
        t, block = bandit.t, bandit.block
        actions = agent.act()
        best = bandit.current()[0].argmax(-1)
        rewards, _ = bandit.step(actions)
        agent.update(actions, rewards)
        recent[t % window] = actions == best
        since = t - block * setting.block_length
        if since + 1 >= window:
            adapted = (recent.mean(0) >= level) & (found[rows, block] == setting.block_length)
            found[adapted, block] = since + 1
    return found[bandit.switches]


def stats_table(finals: dict[str, np.ndarray], references: Sequence[str]) -> dict[str, Any]:
    """One-way ANOVA over agents and Tukey's HSD p-values against each reference."""
    from scipy import stats

    names = list(finals)
    groups = [finals[n] for n in names]
    anova = stats.f_oneway(*groups)
    tukey = stats.tukey_hsd(*groups)
    pairs = {
        ref: {n: float(tukey.pvalue[names.index(n), names.index(ref)]) for n in names}
        for ref in references
    }
    return {"anova_F": float(anova.statistic), "anova_p": float(anova.pvalue), "tukey": pairs}


class BanditStudyTrainer(TuningTrainer):
    """Tunes the agents on the tuning seeds (one agent per ``train_step``) and tests them all on
    the test seeds (see the module docstring)."""

    def __init__(self, config: BanditStudyConfig) -> None:
        self.config = config
        self.hyper = {name: dict(self._defaults(name)) for name in config.agents}
        self.tuned = [name for name in config.agents if AGENTS[name].grid]
        self.iteration = 0
        self.env_steps = 0
        self.episodes = 0
        self._study: tuple[tuple, dict[str, Traces]] | None = None

    def _defaults(self, name: str) -> dict[str, float]:
        defaults = dict(AGENTS[name].defaults)
        if name.startswith("adaptive"):
            defaults.update(dataclasses.asdict(self.config.adaptive))
        return {key: float(value) for key, value in defaults.items()}

    # --- training: tuning ----------------------------------------------------------------

    def test_seeds(self, episodes: int, env_seed: int) -> np.ndarray:
        return env_seed + np.arange(episodes)

    def factory(self, name: str, hyper: dict[str, Any]) -> Callable[[VectorBandit], BanditAgent]:
        """A builder of agent ``name`` with ``hyper`` for any batch of seeds; its action draws
        come from the agent's own stream."""
        spec = AGENTS[name]
        draws = seed_of(stream(self.config.seed, Streams.AGENT_DRAWS, list(AGENTS).index(name)))

        def build(bandit: VectorBandit) -> BanditAgent:
            rng = np.random.default_rng(draws)
            truth = partial(bandit.current)
            return spec.make(bandit.num_seeds, bandit.setting.arms, rng, truth, **hyper)

        return build

    def bandit(self, seeds: np.ndarray) -> VectorBandit:
        """The bandits of ``seeds`` with the run's reward noise."""
        noise = seed_of(stream(self.config.seed, Streams.NOISE))
        return VectorBandit(self.config.bandit, seeds, noise_seed=noise)

    def train_step(self) -> dict[str, float]:
        """Grid search of the next tunable agent on the tuning seeds."""
        name = self.tuned[self.iteration]
        spec = AGENTS[name]
        seeds = self.tuning_seeds()
        inner = [key for key in spec.grid if key not in spec.outer]
        inner_combos = list(itertools.product(*(spec.grid[key] for key in inner)))
        best_regret, best_hyper = np.inf, self.hyper[name]
        for outer_values in itertools.product(*(spec.grid[key] for key in spec.outer)):
            # every inner combination x every tuning seed as one batch
            batch = np.repeat(seeds[None], len(inner_combos), axis=0).ravel()
            hyper: dict[str, Any] = dict(zip(spec.outer, outer_values, strict=True))
            for i, key in enumerate(inner):
                hyper[key] = np.repeat([c[i] for c in inner_combos], len(seeds))
            traces = play(self.factory(name, hyper), self.bandit(batch), self.config.window)
            regrets = traces.final.reshape(len(inner_combos), len(seeds)).mean(-1)
            self.env_steps += len(batch) * self.config.bandit.steps
            self.episodes += len(batch)
            if regrets.min() < best_regret:
                best_regret = float(regrets.min())
                combo = inner_combos[int(regrets.argmin())]
                best_hyper = {
                    **dict(zip(spec.outer, outer_values, strict=True)),
                    **dict(zip(inner, combo, strict=True)),
                }
        self.hyper[name] = {key: float(value) for key, value in best_hyper.items()}
        self.iteration += 1
        self._study = None
        return {
            "agent": list(AGENTS).index(name),
            "tuning_regret": best_regret,
            "tuning_score": -best_regret,
        }

    # --- parameters: every agent's hyper-parameters -------------------------------------------

    def _layout(self) -> list[tuple[str, str]]:
        return [(name, key) for name in self.config.agents for key in sorted(self.hyper[name])]

    def params(self) -> Tensor:
        values = [self.hyper[name][key] for name, key in self._layout()]
        return torch.tensor(values, dtype=torch.float64)

    def parameters_finite(self) -> bool:
        return bool(torch.isfinite(self.params()).all())

    def hyper_of(self, params: Tensor) -> dict[str, dict[str, float]]:
        """``params`` as ``{agent: {hyper-parameter: value}}``."""
        hyper: dict[str, dict[str, float]] = {name: {} for name in self.config.agents}
        for (name, key), value in zip(self._layout(), params.tolist(), strict=True):
            hyper[name][key] = value
        return hyper

    def state_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "params": self.params(), "env_steps": self.env_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.hyper = self.hyper_of(state["params"])
        self.iteration = int(state["iteration"])
        self.env_steps = int(state["env_steps"])
        self._study = None

    # --- the test -----------------------------------------------------------------------------

    def study(self, params: Tensor, episodes: int, env_seed: int) -> dict[str, Traces]:
        """Every agent on the test seeds (cached for the same arguments)."""
        key = (tuple(params.tolist()), episodes, env_seed)
        if self._study is None or self._study[0] != key:
            hyper = self.hyper_of(params)
            jobs = [
                (self.config, name, hyper[name], episodes, env_seed) for name in self.config.agents
            ]
            if self.config.workers == 1:
                played = [_play_test(*job) for job in jobs]
            else:
                with ProcessPoolExecutor(self.config.workers) as pool:
                    played = list(pool.map(_play_test, *zip(*jobs, strict=True)))
            self._study = (key, dict(zip(self.config.agents, played, strict=True)))
        return self._study[1]

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        traces = self.study(params, episodes, env_seed)
        finals = {name: t.final for name, t in traces.items()}
        stats: dict[str, Any] = {
            f"regret_{name}": float(final.mean()) for name, final in finals.items()
        }
        stats.update({f"regret_sd_{name}": float(f.std(ddof=1)) for name, f in finals.items()})
        stats.update(stats_table(finals, self.config.references))
        stats["hyper_parameters"] = self.hyper_of(params)
        stats["test_seeds"] = [env_seed, env_seed + episodes - 1]
        stats["tuning_seeds"] = [int(self.tuning_seeds()[0]), int(self.tuning_seeds()[-1])]
        return -finals[self.config.headline], stats

    def agent(self, params: Tensor, seed: int = 0) -> BanditPolicy:
        name = self.config.headline
        return BanditPolicy(self.factory(name, self.hyper_of(params)[name]), self.config, seed)

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        from neurorl.analysis.bandit_plots import plot_study

        eval_config = self.config.eval
        traces = self.study(params, eval_config.episodes, eval_config.env_seed)
        _, stats = self.evaluate(params, eval_config.episodes, eval_config.env_seed)
        return plot_study(folder, traces, stats, self.config.bandit, self.config.references)


def _play_test(
    config: BanditStudyConfig, name: str, hyper: dict[str, float], episodes: int, env_seed: int
) -> Traces:
    """One agent on the test seeds (a function of its arguments only: a worker process can
    run it and give what an in-process run gives)."""
    trainer = BanditStudyTrainer(config)
    bandit = trainer.bandit(trainer.test_seeds(episodes, env_seed))
    return play(trainer.factory(name, hyper), bandit, config.window)


class BanditPolicy:
    """An agent of the study behind SB3's ``predict`` for ``neurorl/NonStationaryBandit-v0``:
    the observation carries the previous action and reward, which the agent learns from
    before it acts; ``state`` is the agent itself (None at an episode's start)."""

    def __init__(
        self, build: Callable[[VectorBandit], BanditAgent], config: BanditStudyConfig, seed: int
    ) -> None:
        self.build, self.config, self.seed = build, config, seed

    def predict(
        self, observation: Any, state: Any = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        if state is None:
            state = self.build(VectorBandit(self.config.bandit, np.array([self.seed])))
        previous_action, reward = np.asarray(observation, dtype=float).reshape(2)
        if previous_action >= 0:
            state.update(np.array([int(previous_action)]), np.array([reward]))
        return np.int64(state.act()[0]), state


# The ablation's 100,000 steps per seed are 12.5x the main setting's: its study keeps the
# paper's agents and the baselines of the targets (no oracles, epsilon-greedy or M-UCB).
ABLATION_AGENTS = (
    "adaptive",
    "adaptive-code",
    "boltzmann",
    "ducb",
    "ducb-code",
    "swucb",
    "discounted-thompson",
    "neuromod",
)


def _config(
    setting: str, tuning_seeds: int, agents: tuple[str, ...] | None = None
) -> Callable[[], BanditStudyConfig]:
    default = BanditStudyConfig()
    return lambda: BanditStudyConfig(
        bandit=SETTINGS[setting],
        tuning=TuningConfig(seeds=tuning_seeds),
        agents=agents or default.agents,
    )


register(
    Experiment(
        "bandit-neuromod",
        "Lee 2024's non-stationary bandit (5 arms, 16 blocks x 500 steps): Doya-DaYu (text, "
        "code, oracles), tuned baselines and neurorl's adaptive agent over 210 test seeds",
        _config("main", tuning_seeds=50),
        BanditStudyTrainer,
    )
)
register(
    Experiment(
        "bandit-neuromod-two-arm",
        "the same study on the paper's 2-arm ablation (20 blocks x 5,000 steps), the paper's "
        "agents and the baselines of the targets",
        _config("two-arm", tuning_seeds=10, agents=ABLATION_AGENTS),
        BanditStudyTrainer,
    )
)
