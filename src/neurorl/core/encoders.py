"""Encoders: observations -> input currents or spike trains for a spiking network.

All encoders act on the last dimension and keep leading ``[population, batch]`` dimensions;
spike trains add a leading time dimension ``[T, ...]``. Units: ms for time, Hz for rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn


def two_neuron(x: Tensor, scale: float | Tensor = 1.0) -> Tensor:
    """Two-neuron (ON/OFF) code of Akl et al. 2023: ``x -> [relu(x/s), relu(-x/s)]``.

    ``[..., n] -> [..., 2n]``: first the n positive parts, then the n negative parts, so that
    each input neuron sees a non-negative current whatever the sign of the observation.
    ``scale`` (e.g. a running max ``|obs|`` per dimension) broadcasts against ``x``.
    """
    x = x / scale
    return torch.cat([torch.relu(x), torch.relu(-x)], dim=-1)


# --- receptive-field bins (Haşegan et al. 2022) -------------------------------------------


def receptive_field_edges(
    means: Sequence[float] | Tensor,
    stds: Sequence[float] | Tensor,
    bins: int,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Interior edges ``[n_obs, bins - 1]`` of ``bins`` equal-probability bins of N(mean, std).

    Edge ``j`` is ``mean + std * Phi^-1((j + 1) / bins)``, so each bin holds ``1/bins`` of the
    normal mass; the outer bins extend to -inf and +inf.
    """
    means = torch.as_tensor(means, dtype=torch.float64)
    stds = torch.as_tensor(stds, dtype=torch.float64)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if means.shape != stds.shape or means.dim() != 1:
        raise ValueError(f"means {tuple(means.shape)}, stds {tuple(stds.shape)}: need equal 1-D")
    if not bool((stds > 0).all()):
        raise ValueError("stds must be > 0")
    quantiles = torch.special.ndtri(torch.arange(1, bins, dtype=torch.float64) / bins)
    edges = means[:, None] + stds[:, None] * quantiles
    return edges.to(dtype=dtype or torch.get_default_dtype(), device=device)


def receptive_field_bins(
    x: Tensor, means: Sequence[float] | Tensor, stds: Sequence[float] | Tensor, bins: int = 20
) -> Tensor:
    """One-hot receptive-field code (Haşegan et al. 2022): ``[..., n_obs] -> [..., n_obs*bins]``.

    Observation ``i`` drives neurons ``i*bins .. (i+1)*bins - 1``, one per equal-probability
    bin of N(means[i], stds[i]) (see :func:`receptive_field_edges`); exactly the neuron of
    the bin holding ``x[..., i]`` is 1. Bins are right-closed, ``(edge[j-1], edge[j]]`` (as
    ``searchsorted`` in the paper's code); values beyond the outer edges fall in the end bins.
    """
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    edges = receptive_field_edges(means, stds, bins, dtype=dtype, device=x.device)
    if x.shape[-1] != edges.shape[0]:
        raise ValueError(f"x has {x.shape[-1]} observation dims, the fields {edges.shape[0]}")
    index = (x.to(dtype).unsqueeze(-1) > edges).sum(-1)
    return nn.functional.one_hot(index, bins).to(dtype).flatten(-2)


@dataclass(frozen=True)
class ReceptiveFieldEncoder:
    """Equal-probability receptive-field bins per observation dim; ``__call__`` = one-hot code."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    bins: int = 20

    def __post_init__(self) -> None:
        receptive_field_edges(self.means, self.stds, self.bins)  # validates the fields

    @property
    def num_neurons(self) -> int:
        return len(self.means) * self.bins

    def __call__(self, x: Tensor) -> Tensor:
        """``[..., n_obs] -> [..., n_obs * bins]`` one-hot, see :func:`receptive_field_bins`."""
        return receptive_field_bins(x, self.means, self.stds, self.bins)


# The paper's CartPole fields (Haşegan et al. 2022): cart position, cart velocity, pole angle,
# pole angular velocity; 4 x 20 = 80 sensory neurons, one active per observation.
CARTPOLE_RECEPTIVE_FIELDS = ReceptiveFieldEncoder(
    means=(-0.00646, -0.0363, 0.00529, 0.0475),
    stds=(1.0, 0.540, 0.0913, 0.821),
    bins=20,
)


# --- rate -> spike trains -------------------------------------------------------------------


def _check_dt(dt_ms: float) -> None:
    if dt_ms <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt_ms}")


def _spike_dtype(rates_hz: Tensor) -> torch.dtype:
    return rates_hz.dtype if rates_hz.is_floating_point() else torch.get_default_dtype()


def regular_spike_train(rates_hz: Tensor, dt_ms: float, steps: int, start_step: int = 0) -> Tensor:
    """Regular (clock-like) spikes: ``rates [..., n] Hz -> spikes [steps, ..., n]`` in {0, 1}.

    A neuron of rate ``r`` spikes at times ``k * 1000/r`` ms, ``k = 0, 1, ...``: the first
    spike is at step 0, and step ``t`` (covering ``[t*dt, (t+1)*dt)``) holds a spike when one
    of those times falls in it. 50 Hz at dt 1 ms spikes at steps 0, 20, 40, ...; ``steps``
    steps hold ``ceil(steps * dt * r / 1000)`` spikes. ``start_step`` returns the window
    ``[start_step, start_step + steps)`` of that train, so consecutive windows continue it.
    Rates <= 0 are silent; at most one spike per step (rates above 1000/dt Hz saturate).
    """
    _check_dt(dt_ms)
    rates = rates_hz.to(torch.float64).clamp(min=0.0)
    t = torch.arange(start_step, start_step + steps + 1, dtype=torch.float64, device=rates.device)
    cycles = t.view(-1, *(1,) * rates.dim()) * rates * dt_ms / 1000.0  # periods elapsed at t*dt
    # spike times before t*dt: ceil(cycles); the tolerance keeps exact multiples exact
    before = torch.ceil(cycles - 1e-9)
    return (before.diff(dim=0) > 0).to(_spike_dtype(rates_hz))


def poisson_spike_train(
    rates_hz: Tensor, dt_ms: float, steps: int, generator: torch.Generator | None = None
) -> Tensor:
    """Poisson spikes: ``rates [..., n] Hz -> spikes [steps, ..., n]`` in {0, 1}.

    Independent Bernoulli draws per step with ``p = clip(rate * dt / 1000, 0, 1)``; pass a
    seeded ``generator`` (on the device of ``rates_hz``) for reproducible trains.
    """
    _check_dt(dt_ms)
    p = (rates_hz.to(_spike_dtype(rates_hz)) * (dt_ms / 1000.0)).clamp(0.0, 1.0)
    return torch.bernoulli(p.expand(steps, *p.shape), generator=generator)


# --- Gaussian population coding (PopSAN, Tang et al. 2020) -------------------------------


def gaussian_population(x: Tensor, centres: Tensor, widths: Tensor) -> Tensor:
    """Gaussian receptive fields: ``[..., n_obs] -> [..., n_obs * k]`` activations in [0, 1].

    ``a[..., i*k + j] = exp(-(x_i - centres[i, j])^2 / (2 widths[i, j]^2))`` (PopSAN, Tang et
    al. 2020). ``centres`` and ``widths`` are ``[n_obs, k]``, or ``[..., n_obs, k]`` with
    leading dims that broadcast against those of ``x`` (e.g. one set per population member).
    """
    if x.shape[-1] != centres.shape[-2]:
        raise ValueError(f"x has {x.shape[-1]} observation dims, the centres {centres.shape[-2]}")
    z = (x.unsqueeze(-1) - centres) / widths
    return torch.exp(-0.5 * z.square()).flatten(-2)


class GaussianPopulationEncoder(nn.Module):
    """PopSAN's learnable population encoder (Tang et al. 2020), :func:`gaussian_population`.

    ``neurons_per_dim`` centres per observation dimension start evenly spread over
    ``centre_range`` (inclusive) for z-scored observations, all widths at ``width`` (PopSAN:
    (-3, 3), std sqrt(0.15)). Centres and widths are ``nn.Parameter`` s ``[n_obs, k]``; the
    width enters squared, so its sign is irrelevant.
    """

    def __init__(
        self,
        n_obs: int,
        neurons_per_dim: int = 10,
        centre_range: tuple[float, float] = (-3.0, 3.0),
        width: float = math.sqrt(0.15),
    ) -> None:
        super().__init__()
        centres = torch.linspace(*centre_range, neurons_per_dim).expand(n_obs, -1)
        self.centres = nn.Parameter(centres.clone())
        self.widths = nn.Parameter(torch.full((n_obs, neurons_per_dim), float(width)))

    def forward(self, x: Tensor) -> Tensor:
        return gaussian_population(x, self.centres, self.widths)
