"""Named experiments: a description, a default config and the trainer that runs it.

Variants are configs, not copies: ``cartpole-ann-es`` is ``cartpole-snn-es`` with a ReLU net.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neurorl.errors import NeurorlError
from neurorl.experiments.evolution import EvolutionConfig, EvolutionTrainer
from neurorl.nets.policies import MLPPolicyConfig

DEFAULT_EXPERIMENT = "cartpole-snn-es"


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    default_config: Callable[[], Any]
    make_trainer: Callable[[Any], Any]


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
            lambda: dataclasses.replace(EvolutionConfig(), net=MLPPolicyConfig(kind="relu")),
            EvolutionTrainer,
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
