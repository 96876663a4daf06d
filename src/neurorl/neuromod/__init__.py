"""Neuromodulators as uncertainty signals that any learner can read (Doya 2002; Yu & Dayan
2005; Lee et al. 2024): dopamine = reward prediction error, acetylcholine (ACh) = learning
rate or plasticity from expected (aleatoric) against unexpected (epistemic) uncertainty,
noradrenaline (NA) = exploration temperature or noise from epistemic uncertainty.

Everything here is a pure function of arrays of any leading shape (seeds, arms, neurons), with
no knowledge of the task that produced them.
"""

from neurorl.neuromod.modulators import (
    acetylcholine,
    dopamine,
    inverse_temperature,
    noradrenaline,
    relative_gain,
    softmax,
    surprise,
)
from neurorl.neuromod.uncertainty import (
    CusumState,
    Moments,
    cusum_step,
    ensemble_variance,
    moments_step,
    moments_variance,
)

__all__ = [
    "CusumState",
    "Moments",
    "acetylcholine",
    "cusum_step",
    "dopamine",
    "ensemble_variance",
    "inverse_temperature",
    "moments_step",
    "moments_variance",
    "noradrenaline",
    "relative_gain",
    "softmax",
    "surprise",
]
