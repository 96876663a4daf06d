"""Evolution strategies over a flat parameter vector, with the population as a tensor dimension.

Three variants share one ask/tell loop:

* ``openai``: Salimans et al. 2017. Members ``w + sigma * eps_i``, eps ~ N(0, I), optionally
  antithetic (+eps, -eps pairs); gradient ``g = sum_i F_i eps_i / (P sigma)`` with shaped
  fitness F (centred ranks); the step is taken by a torch optimiser (Adam by default).
* ``ars``: augmented random search (Mania et al. 2018, V1-t). Antithetic members
  ``w +- sigma * eps_i``; of the P/2 pairs, the b = ``top_fraction`` P/2 with the best
  ``max(F+, F-)`` give the step ``sum_k (F+_k - F-_k) eps_k / (b sigma_F)`` (b pairs, sigma_F
  the std of their 2b returns: raw fitness differences, no ranks), taken by the optimiser.
* ``multiplicative``: Haşegan et al. 2022. Members ``w * (1 + eps_i)``, eps ~ N(0, sigma^2)
  clipped at ``noise_floor``; ``w <- w * (1 + lr * mean_i(F_i eps_i))`` with z-scored
  fitness F (the paper: P 10, sigma 0.1, lr 1.0, plain SGD).

The caller evaluates the members (e.g. as one batched tensor program) and calls ``tell``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor


@dataclass(frozen=True)
class ESConfig:
    variant: Literal["openai", "ars", "multiplicative"] = "openai"
    population: int = 64
    sigma: float = 0.1
    learning_rate: float = 0.03
    learning_rate_end: float | None = None  # linear decay to this over the run (None: constant)
    optimizer: Literal["adam", "sgd"] = "adam"
    antithetic: bool = True
    fitness_shaping: Literal["centered_ranks", "zscore"] = "centered_ranks"
    weight_decay: float = 0.0
    noise_floor: float = -0.8
    top_fraction: float = 1.0  # ars: the share of pairs that step (the best ones)

    def __post_init__(self) -> None:
        if self.population < 2:
            raise ValueError(f"es.population must be >= 2, got {self.population}")
        if self.antithetic and self.population % 2:
            raise ValueError(
                f"es.population must be even with antithetic sampling, got {self.population}"
            )
        if self.variant == "ars" and not self.antithetic:
            raise ValueError("es.variant=ars needs es.antithetic=true (it steps along pairs)")
        if not 0.0 < self.top_fraction <= 1.0:
            raise ValueError(f"es.top_fraction must be in (0, 1], got {self.top_fraction}")
        if self.sigma <= 0:
            raise ValueError(f"es.sigma must be > 0, got {self.sigma}")
        if self.learning_rate <= 0:
            raise ValueError(f"es.learning_rate must be > 0, got {self.learning_rate}")
        if self.learning_rate_end is not None and self.learning_rate_end < 0:
            raise ValueError(f"es.learning_rate_end must be >= 0, got {self.learning_rate_end}")


def centered_ranks(fitness: Tensor) -> Tensor:
    """Ranks scaled to [-0.5, 0.5], tied members sharing their mean rank; robust to outliers
    and scale. Ties matter on capped returns (CartPole's 500): ranks broken by member order
    would give every tied antithetic pair the same sign and the step a random direction."""
    _, group, counts = torch.unique(fitness, return_inverse=True, return_counts=True)
    first_rank = counts.cumsum(0) - counts
    mean_rank = first_rank.to(fitness.dtype) + (counts.to(fitness.dtype) - 1) / 2
    return mean_rank[group] / (len(fitness) - 1) - 0.5


def zscore(fitness: Tensor) -> Tensor:
    """(F - mean) / std; all-equal fitness gives zeros (no update)."""
    std = fitness.std()
    return torch.zeros_like(fitness) if std == 0 else (fitness - fitness.mean()) / std


def top_pair_step(fitness: Tensor, noise: Tensor, top_fraction: float) -> Tensor:
    """ARS's step direction from antithetic members (``noise``: ``[eps; -eps]``): the b =
    ``top_fraction`` P/2 pairs (at least 1) with the best ``max(F+, F-)``,
    ``sum_k (F+_k - F-_k) eps_k / (b std)``, std over those pairs' 2b returns."""
    pairs = len(fitness) // 2
    top = max(1, round(top_fraction * pairs))
    plus, minus = fitness[:pairs].to(noise), fitness[pairs:].to(noise)
    best = torch.maximum(plus, minus).argsort(descending=True, stable=True)[:top]
    spread = torch.cat([plus[best], minus[best]]).std()
    if not spread > 0:  # all equal: no direction
        return torch.zeros_like(noise[0])
    return (plus[best] - minus[best]) @ noise[best] / (len(best) * spread)


class EvolutionStrategy:
    """``members = es.ask(generator)``, evaluate, ``es.tell(fitness)``; ``es.center``: the mean."""

    def __init__(self, center: Tensor, config: ESConfig) -> None:
        self.config = config
        self.center = torch.nn.Parameter(center.detach().clone(), requires_grad=False)
        optimiser = torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD
        self.optimiser = optimiser(
            [self.center], lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self._noise: Tensor | None = None

    def ask(self, generator: torch.Generator) -> Tensor:
        """Sample the population ``[P, D]`` (noise drawn on CPU from ``generator``)."""
        config, dim = self.config, self.center.shape[0]
        half = config.population // 2 if config.antithetic else config.population
        noise = torch.randn(half, dim, generator=generator).to(self.center.device)
        if config.antithetic:
            noise = torch.cat([noise, -noise])
        if config.variant != "multiplicative":
            self._noise = noise
            return self.center.detach() + config.sigma * noise
        self._noise = (config.sigma * noise).clamp(min=config.noise_floor)
        return self.center.detach() * (1.0 + self._noise)

    def anneal(self, progress: float) -> None:
        """Set the step for ``progress`` in [0, 1] of the run (with ``learning_rate_end``)."""
        config = self.config
        if config.learning_rate_end is not None:
            start, end = config.learning_rate, config.learning_rate_end
            for group in self.optimiser.param_groups:
                group["lr"] = start + (end - start) * min(max(progress, 0.0), 1.0)

    def tell(self, fitness: Tensor) -> dict[str, float]:
        """Update the centre from the members' fitness ``[P]`` (higher is better)."""
        if self._noise is None:
            raise RuntimeError("tell() called before ask()")
        config = self.config
        if config.variant == "ars":
            ascent = top_pair_step(fitness, self._noise, config.top_fraction)
        else:
            shaped = (
                centered_ranks(fitness)
                if config.fitness_shaping == "centered_ranks"
                else zscore(fitness)
            )
            weighted = shaped.to(self._noise) @ self._noise / len(fitness)
            if config.variant == "openai":
                ascent = weighted / config.sigma
            else:
                ascent = self.center.detach() * weighted
        self.center.grad = -ascent
        self.optimiser.step()
        self._noise = None
        return {
            "grad_norm": float(ascent.norm()),
            "center_norm": float(self.center.detach().norm()),
        }

    def state_dict(self) -> dict:
        return {
            "center": self.center.detach().clone(),
            "optimiser": copy.deepcopy(self.optimiser.state_dict()),
        }

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            self.center.copy_(state["center"])
        self.optimiser.load_state_dict(state["optimiser"])
