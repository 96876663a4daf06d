"""Uncertainty estimators on numpy arrays (leading dimensions are batch dimensions).

- Epistemic (unexpected) uncertainty ``E``: the variance of an ensemble's estimates of one
  quantity (Lee et al. 2024, eq. for E), or a learner's posterior variance.
- Aleatoric (expected) uncertainty ``A``: the variance of the outcome itself, learned as
  exponential moving first and second moments, ``A = <x^2> - <x>^2`` (clipped at 0).
- Change detection: a two-sided CUSUM (Page 1954) on standardised prediction errors, the
  moment when expected uncertainty no longer explains the errors (Yu & Dayan's unexpected
  uncertainty turned into an event).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def ensemble_variance(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Epistemic uncertainty: the (population) variance of ensemble ``values`` over ``axis``."""
    return np.var(values, axis=axis)


class Moments(NamedTuple):
    """Exponential moving first and second moments of an outcome."""

    mean: np.ndarray
    second: np.ndarray


def moments_step(moments: Moments, x: np.ndarray, rate: np.ndarray | float) -> Moments:
    """``m <- m + rate (x - m)`` for ``x`` and ``x^2``; ``rate`` 0 leaves an entry as it is."""
    return Moments(
        moments.mean + rate * (x - moments.mean),
        moments.second + rate * (x * x - moments.second),
    )


def moments_variance(moments: Moments) -> np.ndarray:
    """Aleatoric uncertainty ``A = <x^2> - <x>^2``, clipped at 0."""
    return np.maximum(moments.second - moments.mean**2, 0.0)


class CusumState(NamedTuple):
    """Upper and lower cumulative sums of standardised errors (each >= 0)."""

    upper: np.ndarray
    lower: np.ndarray


def cusum_step(
    state: CusumState,
    z: np.ndarray,
    drift: np.ndarray | float,
    threshold: np.ndarray | float,
    active: np.ndarray,
) -> tuple[np.ndarray, CusumState]:
    """One CUSUM step on standardised errors ``z`` where ``active`` (elsewhere unchanged):
    ``g+ <- max(0, g+ + z - drift)``, ``g- <- max(0, g- - z - drift)``; the alarm is
    ``max(g+, g-) > threshold``. Returns ``(alarm, state)``; alarmed entries restart at 0."""
    upper = np.where(active, np.maximum(state.upper + z - drift, 0.0), state.upper)
    lower = np.where(active, np.maximum(state.lower - z - drift, 0.0), state.lower)
    alarm = np.maximum(upper, lower) > threshold
    return alarm, CusumState(np.where(alarm, 0.0, upper), np.where(alarm, 0.0, lower))
