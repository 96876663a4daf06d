"""Named experiments: a description, a default config and the trainer that runs it.

Variants are configs, not copies: ``cartpole-ann-es`` is ``cartpole-snn-es`` with a ReLU net,
and the evolution and STDP-RL experiments of Haşegan et al. 2022 act on one network object.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from neurorl.errors import NeurorlError
from neurorl.experiments.dqn import DQNConfig, DQNTrainConfig, DQNTrainer
from neurorl.experiments.evolution import (
    EvolutionConfig,
    EvolutionSeedBatch,
    EvolutionTrainer,
    PaperNetworkEvolutionConfig,
    TrainConfig,
)
from neurorl.experiments.lifetime_evolution import (
    LifetimeEvolutionConfig,
    LifetimeEvolutionTrainer,
)
from neurorl.experiments.stdp_rl import PlasticityConfig, STDPRLConfig, STDPRLTrainer
from neurorl.experiments.td3 import TD3Config, TD3TrainConfig, TD3Trainer
from neurorl.learn.es import ESConfig
from neurorl.nets.cartpole_network import CartPoleNetworkConfig
from neurorl.nets.cartpole_policy import PaperNetworkPolicyConfig
from neurorl.nets.deep import DeepNetConfig
from neurorl.nets.policies import MLPPolicyConfig

DEFAULT_EXPERIMENT = "cartpole-snn-evol-quick"
T = TypeVar("T")


@dataclass(frozen=True)
class Experiment:
    """``make_batch(config, seeds)``, where an experiment has one: a trainer of the runs of
    ``config`` with each of ``seeds``, stepped as one program (``runner.train_seeds``)."""

    name: str
    description: str
    default_config: Callable[[], Any]
    make_trainer: Callable[[Any], Any]
    make_batch: Callable[[Any, tuple[int, ...]], Any] | None = None


def _replace(config: Any, **sections: Any) -> Any:
    """``config`` with some sections (or fields) replaced: a variant of an experiment."""
    return dataclasses.replace(config, **sections)


# The paper's multiplicative ES (Haşegan et al. 2022): P 10, sigma 0.1, alpha 1.0, z-scored
# fitness, plain SGD, 1600 iterations of 5 episodes per member.
PAPER_ES = ESConfig(
    variant="multiplicative",
    population=10,
    sigma=0.1,
    learning_rate=1.0,
    optimizer="sgd",
    antithetic=False,
    fitness_shaping="zscore",
)
# A modern ES on the same weights: antithetic pairs, centred ranks, Adam (sigma and the step
# in mV; the weights are 5-15 mV; the step decays linearly from 1 to 0.2 mV over the run),
# 64 members x 3 episodes that start from the same states (common random numbers), the
# centre scored on 12 episodes of its own; each member's last two episodes replay two of the
# last 20 starts on which the centre fell short of 500; it stops when the centre holds the
# pole on its 12 and on 100 more (300 generations at most); the last scored centre is the
# result (what it tests, and the settings tried: docs/hasegan2022/README.md).
MODERN_ES = ESConfig(population=64, sigma=2.0, learning_rate=1.0, learning_rate_end=0.2)
MODERN_TRAIN = TrainConfig(
    generations=300,
    episodes_per_member=3,
    center_episodes=12,
    common_starts=True,
    stop_score=500.0,
    validation_episodes=100,
    replay_starts=2,
    checkpoint="last",
)
# ARS (Mania et al. 2018) on the same weights: 128 members (64 antithetic pairs, sigma 2 mV),
# one episode each from a common start; the best half of the pairs step by their raw return
# differences over the returns' std (8 mV decaying linearly to 2 mV, plain SGD); the centre
# scored on 10 episodes, stopped on those and 30 more.
ARS_ES = ESConfig(
    variant="ars",
    population=128,
    sigma=2.0,
    learning_rate=8.0,
    learning_rate_end=2.0,
    optimizer="sgd",
    top_fraction=0.5,
)
ARS_TRAIN = dataclasses.replace(
    MODERN_TRAIN,
    generations=150,
    episodes_per_member=1,
    center_episodes=10,
    validation_episodes=30,
    replay_starts=0,
)
# ARS on a budget of ~3 minutes here (the default experiment; a budget of generations, not
# seconds): 80 generations at dt = 2 ms, all 64 pairs stepping, sigma 4 mV, members' episodes
# ending at 250 steps (the centre's run to 500), every member starting from one of the last
# 20 starts on which the centre fell short (BENCHMARKS.md, "Default experiment").
QUICK_NETWORK = CartPoleNetworkConfig(dt_ms=2.0)
QUICK_ES = dataclasses.replace(ARS_ES, top_fraction=1.0, sigma=4.0)
QUICK_TRAIN = dataclasses.replace(ARS_TRAIN, generations=80, member_max_steps=250, replay_starts=1)
# The same ARS run on to its stop (200 generations at most, the step decaying over them), the
# members' episodes as long as the task's 500 steps: aimed at a test of 475 within 8,000
# episodes (benchmarks/held_out_test.py).
FAST_TRAIN = dataclasses.replace(QUICK_TRAIN, generations=200, member_max_steps=None)
PAPER_TRAIN = TrainConfig(
    generations=1600,
    episodes_per_member=5,
    stop_score=None,
    checkpoint="last",
    snapshots=(100, 200, 400, 800),
)


def _paper_evolution(
    es: ESConfig,
    train: TrainConfig,
    config: type[PaperNetworkEvolutionConfig] = PaperNetworkEvolutionConfig,
    **net: Any,
) -> Callable[[], Any]:
    """The paper network's evolution (``config``: or a subclass of it) with some net keys."""
    return lambda: config(net=PaperNetworkPolicyConfig(compile=True, **net), es=es, train=train)


def _stdp_rl(**plasticity: Any) -> Callable[[], Any]:
    """STDP-RL on the paper network with some plasticity keys set."""
    return lambda: STDPRLConfig(plasticity=PlasticityConfig(**plasticity))


# Akl et al. 2023 (shared/design/papers/akl2023.md): the same layers as an SNN or an ANN.
# DQN: CartPole 4-64-64-2, T 3, alpha = beta = 0.5, threshold 0.2 (DeepNetConfig's
# defaults); Acrobot 6-256-256-3, alpha = beta = 0.8, threshold 1.0.
def _dqn(env_id: str, kind: str, train: dict[str, Any], **net: Any) -> Callable[[], Any]:
    return lambda: DQNConfig(
        env_id=env_id,
        net=DeepNetConfig(kind=kind, **net),
        train=DQNTrainConfig(total_steps=100_000, **train),
    )


# CartPole's departures from the paper (docs/akl2023/README.md): the spiking Q-network reads
# the observation through the paper's two-neuron encoding instead of as constant current
# (more seeds learn), and training stops once the greedy policy holds the pole for all 500
# steps of 20 validation episodes (seeds apart from the test's). The ReLU Q-network (raw
# input) diverges with the target copied every 100 steps: its target is copied every 1000.
CARTPOLE_DQN = {"snn": {"validation_episodes": 20, "stop_score": 500.0}}
CARTPOLE_DQN["ann"] = {**CARTPOLE_DQN["snn"], "target_every": 1000}
CARTPOLE_DQN_NET = {"snn": {"encoding": "two_neuron"}, "ann": {}}


# TD3: spiking actor (T 5, alpha = beta = 0.5, two-neuron input, the paper's per-env
# threshold; Walker2d has none in the paper: 1.0) or the same layers as ReLU units (raw
# input), ReLU twin critics; 1M steps on MuJoCo (400-300), 30k on Pendulum (256-256).
def _td3(env_id: str, kind: str, threshold: float, **actor: Any) -> Callable[[], Any]:
    mujoco = env_id != "Pendulum-v1"
    hidden = (400, 300) if mujoco else (256, 256)
    steps = {"total_steps": 1_000_000, "steps_per_iteration": 10_000} if mujoco else {}
    spiking = {"steps": 5, "threshold": threshold, "encoding": "two_neuron"}
    return lambda: TD3Config(
        env_id=env_id,
        actor=DeepNetConfig(
            kind=kind, hidden=hidden, **(spiking if kind == "snn" else {}), **actor
        ),
        critic=DeepNetConfig(kind="ann", hidden=hidden),
        train=TD3TrainConfig(**steps),
    )


# PopSAN (Tang et al. 2020): 10 Gaussian fields per observation dim, LIF 256-256 (current
# decay 0.5, voltage decay 0.75, threshold 0.5, a window surrogate of half-width 0.5: here
# the triangle of slope 2), 10 output neurons per action dim, rates decoded; actor lr 1e-4.
def _popsan(env_id: str) -> Callable[[], Any]:
    actor = DeepNetConfig(
        hidden=(256, 256),
        steps=5,
        current_decay=0.5,
        voltage_decay=0.75,
        threshold=0.5,
        surrogate="triangle",
        surrogate_slope=2.0,
        encoding="population",
        readout="rate_mean",
    )
    return lambda: TD3Config(
        env_id=env_id, actor=actor, train=TD3TrainConfig(actor_learning_rate=1e-4)
    )


MUJOCO_THRESHOLDS = {"halfcheetah": 0.8, "hopper": 2.0, "walker2d": 1.0, "ant": 2.5}


def _deep_rl_experiments() -> list[Experiment]:
    """The DQN and TD3 experiments of Akl et al. 2023, SNN and ANN variants of each."""
    experiments = []
    for kind in ("snn", "ann"):
        layers = "spiking (CubaLIF, T 3)" if kind == "snn" else "ReLU"
        experiments += [
            Experiment(
                f"cartpole-{kind}-dqn",
                f"CartPole-v1, DQN with a {layers} Q-network 4-64-64-2 (Akl 2023), 100k steps",
                _dqn("CartPole-v1", kind, CARTPOLE_DQN[kind], **CARTPOLE_DQN_NET[kind]),
                DQNTrainer,
            ),
            Experiment(
                f"acrobot-{kind}-dqn",
                f"Acrobot-v1, DQN with a {layers} Q-network 6-256-256-3 (Akl 2023), 100k steps",
                _dqn(
                    "Acrobot-v1",
                    kind,
                    {},
                    hidden=(256, 256),
                    current_decay=0.8,
                    voltage_decay=0.8,
                    threshold=1.0,
                ),
                DQNTrainer,
            ),
        ]
    for kind in ("snn", "ann"):
        actor = "spiking (CubaLIF, T 5)" if kind == "snn" else "ReLU"
        experiments.append(
            Experiment(
                f"pendulum-{kind}-td3",
                f"Pendulum-v1, TD3 with a {actor} actor 256-256, ReLU critics (Akl 2023)",
                _td3("Pendulum-v1", kind, threshold=1.0),
                TD3Trainer,
            )
        )
    experiments.append(
        Experiment(
            "pendulum-snn-td3-popsan",
            "Pendulum-v1, TD3 with a population-coded spiking actor (PopSAN, Tang 2020)",
            _popsan("Pendulum-v1"),
            TD3Trainer,
        )
    )
    for env, threshold in MUJOCO_THRESHOLDS.items():
        env_id = {"halfcheetah": "HalfCheetah-v5"}.get(env, f"{env.capitalize()}-v5")
        for kind in ("snn", "ann"):
            actor = "spiking (CubaLIF, T 5)" if kind == "snn" else "ReLU"
            experiments.append(
                Experiment(
                    f"{env}-{kind}-td3",
                    f"{env_id}, TD3 with a {actor} actor 400-300, ReLU critics (Akl 2023), 1M "
                    "steps",
                    _td3(env_id, kind, threshold),
                    TD3Trainer,
                )
            )
    return experiments


EXPERIMENTS: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in [
        Experiment(
            "cartpole-snn-es",
            "CartPole-v1, small LIF network (two-neuron input, spike-count vote) "
            "evolved by OpenAI-ES",
            EvolutionConfig,
            EvolutionTrainer,
        ),
        Experiment(
            "cartpole-ann-es",
            "CartPole-v1, the same layers as ReLU units (ANN baseline) evolved by the same ES",
            lambda: _replace(EvolutionConfig(), net=MLPPolicyConfig(kind="relu")),
            EvolutionTrainer,
        ),
        Experiment(
            "cartpole-snn-evol",
            "Haşegan 2022 network (200 INTF7 cells), its 1800 E->E weights evolved by a modern "
            "ES (antithetic, common starts, centred ranks, Adam)",
            _paper_evolution(MODERN_ES, MODERN_TRAIN),
            EvolutionTrainer,
            EvolutionSeedBatch,
        ),
        Experiment(
            "cartpole-snn-evol-ars",
            "Haşegan 2022 network, the same 1800 weights evolved by ARS (128 members x 1 "
            "episode from common starts, the best half of the pairs step)",
            _paper_evolution(ARS_ES, ARS_TRAIN),
            EvolutionTrainer,
            EvolutionSeedBatch,
        ),
        Experiment(
            "cartpole-snn-evol-quick",
            "Haşegan 2022 network at dt 2 ms, ARS for 80 generations (all pairs step; members' "
            "episodes end at 250 steps and replay the centre's failed starts)",
            _paper_evolution(QUICK_ES, QUICK_TRAIN, network=QUICK_NETWORK),
            EvolutionTrainer,
            EvolutionSeedBatch,
        ),
        Experiment(
            "cartpole-snn-evol-fast",
            "Haşegan 2022 network at dt 2 ms, the default's ARS with members' episodes to 500 "
            "steps, on to its stop (200 generations at most): aims at a test of 475 within "
            "8,000 episodes",
            _paper_evolution(QUICK_ES, FAST_TRAIN, network=QUICK_NETWORK),
            EvolutionTrainer,
            EvolutionSeedBatch,
        ),
        Experiment(
            "cartpole-snn-stdprl-evol",
            "Haşegan 2022 network at dt 2 ms: STDP-RL (EA->EM) for its first 800 episodes, "
            "then cartpole-snn-evol-fast's ES from the weights it learned",
            _paper_evolution(QUICK_ES, FAST_TRAIN, LifetimeEvolutionConfig, network=QUICK_NETWORK),
            LifetimeEvolutionTrainer,
        ),
        Experiment(
            "cartpole-snn-evol-paper",
            "Haşegan 2022 network, the paper's multiplicative ES (P 10, sigma 0.1, 1600 its)",
            _paper_evolution(PAPER_ES, PAPER_TRAIN),
            EvolutionTrainer,
            EvolutionSeedBatch,
        ),
        Experiment(
            "cartpole-snn-evol-ea-em",
            "Haşegan 2022 network, only the 800 EA->EM weights evolved (modern ES)",
            _paper_evolution(MODERN_ES, MODERN_TRAIN, evolve="ea_em"),
            EvolutionTrainer,
            EvolutionSeedBatch,
        ),
        Experiment(
            "cartpole-snn-stdprl",
            "Haşegan 2022 network trained online by STDP-RL on ES->EA and EA->EM (the paper's "
            "variant: binary tags, targeted reward, ES->EA reward x 0.8, the 3-stage schedule)",
            _stdp_rl(plastic="es_ea_em"),
            STDPRLTrainer,
            STDPRLTrainer,
        ),
        Experiment(
            "cartpole-snn-stdprl-ea-em",
            "the same with only EA->EM plastic (the paper's headline rule)",
            STDPRLConfig,
            STDPRLTrainer,
            STDPRLTrainer,
        ),
        Experiment(
            "cartpole-snn-stdprl-trace",
            "cartpole-snn-stdprl with exponential eligibility traces (Izhikevich 2007 / MSTDPET)",
            _stdp_rl(plastic="es_ea_em", eligibility="trace"),
            STDPRLTrainer,
            STDPRLTrainer,
        ),
        *_deep_rl_experiments(),
    ]
}


def register(experiment: Experiment) -> Experiment:
    """Add an experiment under its name (as ``gymnasium.register`` adds an env), from
    neurorl's own modules or a user's code; a name already taken is an error."""
    if experiment.name in EXPERIMENTS:
        raise NeurorlError(f"experiment '{experiment.name}' is already registered")
    EXPERIMENTS[experiment.name] = experiment
    return experiment


# the systems built on the core register their experiments when imported
# (one import line per module, below)


def look_up(table: Mapping[str, T], name: str, what: str, see: str = "") -> T:
    """``table[name]``; an unknown name is a one-line error that suggests the closest one."""
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=1, cutoff=0.4)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(table)}"
    raise NeurorlError(f"unknown {what} '{name}'{hint}{see}")


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name suggests the closest one."""
    return look_up(EXPERIMENTS, name, "experiment", " (see 'neurorl list')")


from neurorl.experiments import bandits, coagent, neuromod_cartpole, worm  # noqa: E402, F401
