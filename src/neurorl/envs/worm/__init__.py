"""A simulated C. elegans on a plate, steered by optogenetic light (Li, Kreiman &
Ramanathan 2024): ``gymnasium.make("neurorl/WormPlate-v0", line="aiy")`` for one plate,
``gymnasium.make_vec("neurorl/WormPlate-v0", num_envs=1000,
vectorization_mode="vector_entry_point")`` for many as one array program."""

import gymnasium as gym

from neurorl.envs.worm.env import WormPlate, WormPlateVectorEnv
from neurorl.envs.worm.lines import LINES, NEURON_EFFECTS, Line, resolve_line
from neurorl.envs.worm.locomotion import WormParams
from neurorl.envs.worm.plate import PlateConfig, WormPlateBatch

ENV_ID = "neurorl/WormPlate-v0"

if ENV_ID not in gym.registry:
    gym.register(
        ENV_ID,
        entry_point="neurorl.envs.worm.env:WormPlate",
        vector_entry_point="neurorl.envs.worm.env:WormPlateVectorEnv",
    )

__all__ = [
    "ENV_ID",
    "LINES",
    "NEURON_EFFECTS",
    "Line",
    "PlateConfig",
    "WormParams",
    "WormPlate",
    "WormPlateBatch",
    "WormPlateVectorEnv",
    "resolve_line",
]
