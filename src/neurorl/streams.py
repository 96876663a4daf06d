"""Independent random streams keyed by a run's seed and named indices.

Every random draw of a trainer comes from ``stream(seed, NAME, k)``: the stream ``NAME`` (a
member of the trainer's own ``IntEnum`` of streams) at step ``k`` (a generation, an episode,
an iteration). A run resumed from any checkpoint therefore draws exactly what an
uninterrupted one draws, and adding a stream never shifts another's numbers.
"""

from __future__ import annotations

import numpy as np
import torch


def stream(seed: int, *indices: int) -> torch.Generator:
    """An independent CPU random stream for ``(seed, indices...)``, e.g. ``(seed, STARTS,
    generation)``."""
    state = np.random.SeedSequence([seed, *(int(i) for i in indices)]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def seed_of(generator: torch.Generator) -> int:
    """An env seed (int32) derived from a random stream, e.g. ``seed_of(stream(seed, k))``."""
    return int(generator.initial_seed() % 2**31)
