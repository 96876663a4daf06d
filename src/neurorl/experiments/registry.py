"""Named experiments: a description, a default config and the trainer that runs it.

Variants are configs, not copies: ``cartpole-ann-es`` is ``cartpole-snn-es`` with a ReLU net,
and the evolution and STDP-RL experiments of Haşegan et al. 2022 act on one network object.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neurorl.errors import NeurorlError
from neurorl.experiments.evolution import (
    EvolutionConfig,
    EvolutionTrainer,
    PaperNetworkEvolutionConfig,
    TrainConfig,
)
from neurorl.experiments.stdp_rl import PlasticityConfig, STDPRLConfig, STDPRLTrainer
from neurorl.learn.es import ESConfig
from neurorl.nets.cartpole_policy import PaperNetworkPolicyConfig
from neurorl.nets.policies import MLPPolicyConfig

DEFAULT_EXPERIMENT = "cartpole-snn-es"


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    default_config: Callable[[], Any]
    make_trainer: Callable[[Any], Any]


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
# in mV; the weights are 5-15 mV), a larger population.
MODERN_ES = ESConfig(population=32, sigma=2.0, learning_rate=0.5)


def _paper_evolution(es: ESConfig, generations: int, **net: Any) -> Callable[[], Any]:
    return lambda: PaperNetworkEvolutionConfig(
        net=PaperNetworkPolicyConfig(compile=True, **net),
        es=es,
        train=TrainConfig(generations=generations, episodes_per_member=5, stop_return=None),
    )


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
            "ES (antithetic, centred ranks, Adam)",
            _paper_evolution(MODERN_ES, 150),
            EvolutionTrainer,
        ),
        Experiment(
            "cartpole-snn-evol-paper",
            "Haşegan 2022 network, the paper's multiplicative ES (P 10, sigma 0.1, 1600 its)",
            _paper_evolution(PAPER_ES, 1600),
            EvolutionTrainer,
        ),
        Experiment(
            "cartpole-snn-evol-ea-em",
            "Haşegan 2022 network, only the 800 EA->EM weights evolved (modern ES)",
            _paper_evolution(MODERN_ES, 150, evolve="ea_em"),
            EvolutionTrainer,
        ),
        Experiment(
            "cartpole-snn-stdprl",
            "Haşegan 2022 network trained online by STDP-RL on EA->EM (binary tags, targeted "
            "reward, the paper's 3-stage schedule)",
            STDPRLConfig,
            STDPRLTrainer,
        ),
        Experiment(
            "cartpole-snn-stdprl-trace",
            "the same with exponential eligibility traces (Izhikevich 2007 / MSTDPET)",
            lambda: _replace(STDPRLConfig(), plasticity=PlasticityConfig(eligibility="trace")),
            STDPRLTrainer,
        ),
        Experiment(
            "cartpole-snn-stdprl-es-ea",
            "the same with ES->EA plastic too (reward x 0.8)",
            lambda: _replace(STDPRLConfig(), plasticity=PlasticityConfig(plastic="es_ea_em")),
            STDPRLTrainer,
        ),
    ]
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name suggests the closest one."""
    if name in EXPERIMENTS:
        return EXPERIMENTS[name]
    close = difflib.get_close_matches(name, list(EXPERIMENTS), n=1, cutoff=0.4)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(EXPERIMENTS)}"
    raise NeurorlError(f"unknown experiment '{name}'{hint} (see 'neurorl list')")
