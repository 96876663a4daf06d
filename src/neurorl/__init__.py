"""neurorl: spiking and brain-inspired agents trained with RL and evolution.

``make`` an experiment, ``learn`` it into a run folder, ``load`` its policy, ``predict`` and
``evaluate``; ``register`` an experiment of your own (see docs/adding-an-experiment.md).
"""

__version__ = "0.2.0"  # before the imports: neurorl.export reads it

from neurorl.api import Evaluation, Model, Policy, evaluate, load, make
from neurorl.experiments.registry import EXPERIMENTS, Experiment, register
from neurorl.experiments.trainer import Agent, Trainer

__all__ = [
    "EXPERIMENTS",
    "Agent",
    "Evaluation",
    "Experiment",
    "Model",
    "Policy",
    "Trainer",
    "evaluate",
    "load",
    "make",
    "register",
]
