"""Neuromodulatory signals from uncertainties (Doya 2002's mapping, Lee et al. 2024's text).

- dopamine: ``delta = r - V`` (reward prediction error).
- acetylcholine: learning rate / plasticity ``alpha = E / (E + A)``, a Kalman gain: high when
  the learner's own ignorance ``E`` dominates the outcome's noise ``A``.
- noradrenaline: exploration temperature ``T = E`` (inverse temperature ``beta = 1 / E``), or
  a noise amplitude ``sqrt(E)``.
"""

from __future__ import annotations

import numpy as np

# Added to denominators: an uncertainty of exactly 0 still gives a finite modulator.
EPSILON = 1e-12


def dopamine(reward: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Reward prediction error ``r - V``."""
    return reward - prediction


def acetylcholine(epistemic: np.ndarray, aleatoric: np.ndarray) -> np.ndarray:
    """Learning rate ``E / (E + A)`` in [0, 1]."""
    return epistemic / (epistemic + aleatoric + EPSILON)


def noradrenaline(epistemic: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Exploration temperature ``scale * E`` (the softmax's T)."""
    return scale * epistemic


def inverse_temperature(temperature: np.ndarray) -> np.ndarray:
    """``beta = 1 / T``."""
    return 1.0 / (temperature + EPSILON)


def surprise(error: np.ndarray, predictive_variance: np.ndarray) -> np.ndarray:
    """A prediction error in units of its expected spread, ``delta / sqrt(var)``."""
    return error / np.sqrt(predictive_variance + EPSILON)


def softmax(logits: np.ndarray, inverse_temperature: np.ndarray | float = 1.0) -> np.ndarray:
    """``softmax(beta * logits)`` over the last axis (stable for any beta >= 0)."""
    scaled = inverse_temperature * logits
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    weights = np.exp(scaled)
    return weights / weights.sum(axis=-1, keepdims=True)


def relative_gain(signal: np.ndarray, baseline: np.ndarray, high: np.ndarray | float) -> np.ndarray:
    """A signal against its own running mean, ``clip(signal / baseline, 1 / high, high)``: above
    1 when the signal is higher than usual (e.g. ACh after a change of the world: Yu & Dayan's
    unexpected uncertainty), below 1 when it is lower (a stable world), bounded by ``high``."""
    return np.clip(signal / (baseline + EPSILON), 1.0 / high, high)
