"""Encoders: observations -> input currents or spike trains for a spiking network.

All encoders act on the last dimension and keep leading ``[population, batch]`` dimensions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def two_neuron(x: Tensor, scale: float | Tensor = 1.0) -> Tensor:
    """Two-neuron (ON/OFF) code of Akl et al. 2023: ``x -> [relu(x/s), relu(-x/s)]``.

    ``[..., n] -> [..., 2n]``: first the n positive parts, then the n negative parts, so that
    each input neuron sees a non-negative current whatever the sign of the observation.
    """
    x = x / scale
    return torch.cat([torch.relu(x), torch.relu(-x)], dim=-1)
