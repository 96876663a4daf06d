"""State-value critics that broadcast a TD error: linear TD(lambda) on a Fourier basis or a
table, and a small neural critic trained by semi-gradient TD(0).

Every critic steps ``B`` environments in lockstep: ``update(obs, next_obs, reward,
terminated, live) -> delta [B]`` forms the TD error (Sutton & Barto 2018, eq. 6.5)
``delta = r + gamma (1 - terminated) V(s') - V(s)`` and applies the update for the rows
where ``live`` is 1; ``start(rows)`` clears the eligibility traces of rows whose episode
begins. The linear critics keep one accumulating trace per environment (eq. 12.5):
``e <- gamma lambda e + phi(s)``, ``w <- w + alpha sum_b delta_b e_b``.

The Fourier basis (Konidaris, Osentoski & Thomas 2011) of order ``n`` on ``d`` observation
dims has ``(n + 1)^d`` features ``cos(pi c . x)``, ``x`` scaled into [0, 1] by per-dim bounds,
``c`` every vector in ``{0..n}^d``.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Protocol

import torch
from torch import Tensor, nn

from neurorl.errors import ConfigError

FLOAT_BYTES = 4


class Critic(Protocol):
    def value(self, obs: Tensor) -> Tensor: ...
    def start(self, rows: Tensor) -> None: ...
    def update(
        self, obs: Tensor, next_obs: Tensor, reward: Tensor, terminated: Tensor, live: Tensor
    ) -> Tensor: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


def fourier_feature_count(order: int, dims: int) -> int:
    return (order + 1) ** dims


def fourier_bytes(order: int, dims: int, batch: int) -> int:
    """Memory of a Fourier critic: coefficients ``[F, d]``, weights ``[F]``, traces and
    features ``[B, F]`` (float32)."""
    return fourier_feature_count(order, dims) * (dims + 1 + 2 * batch) * FLOAT_BYTES


def check_fits(what: str, needed: int) -> None:
    """ConfigError naming the bytes ``what`` needs when they exceed this machine's memory."""
    available = available_memory()
    if needed > available:
        raise ConfigError(
            f"{what} needs {needed / 2**30:.1f} GiB of memory, more than this machine's "
            f"{available / 2**30:.1f} GiB; make it smaller"
        )


def check_fourier_size(order: int, dims: int, batch: int) -> None:
    """ConfigError when a Fourier basis of ``order`` on ``dims`` dims does not fit in memory."""
    check_fits(
        f"critic.order={order} on {dims} observation dims "
        f"({fourier_feature_count(order, dims):,} Fourier features)",
        fourier_bytes(order, dims, batch),
    )


def available_memory() -> int:
    """Physical memory of this machine in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def scale_to_unit(obs: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """``obs`` clipped into ``[low, high]`` and mapped to [0, 1] per dim."""
    return ((obs - low) / (high - low)).clamp(0.0, 1.0)


class LinearTDCritic:
    """Linear TD(lambda) on features ``phi(obs) [B, F]`` (see the module docstring)."""

    def __init__(self, features: int, batch: int, gamma: float, lam: float, lr: float) -> None:
        self.weights = torch.zeros(features)
        self.traces = torch.zeros(batch, features)
        self.gamma, self.lam, self.lr = gamma, lam, lr
        self.last: tuple[Tensor, Tensor] | None = None  # the last next_obs and its features

    def features(self, obs: Tensor) -> Tensor:
        raise NotImplementedError

    def features_of(self, obs: Tensor) -> Tensor:
        """``phi(obs)``, taken from the last update when ``obs`` is its ``next_obs`` (the
        next step of the same episodes)."""
        last = self.last
        if last is not None and last[0].shape == obs.shape and torch.equal(last[0], obs):
            return last[1]
        return self.features(obs)

    def value(self, obs: Tensor) -> Tensor:
        return self.features(obs) @ self.weights

    def start(self, rows: Tensor) -> None:
        self.traces[rows] = 0.0

    def update(
        self, obs: Tensor, next_obs: Tensor, reward: Tensor, terminated: Tensor, live: Tensor
    ) -> Tensor:
        phi, next_phi = self.features_of(obs), self.features(next_obs)
        self.last = (next_obs.clone(), next_phi)
        next_value = (1.0 - terminated) * (next_phi @ self.weights)
        delta = (reward + self.gamma * next_value - phi @ self.weights) * live
        self.traces.mul_(self.gamma * self.lam).add_(phi * live[:, None])
        self.weights.add_(self.lr * (delta @ self.traces))
        return delta

    def state_dict(self) -> dict:
        return {"weights": self.weights.clone(), "traces": self.traces.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.weights.copy_(state["weights"])
        self.traces.copy_(state["traces"])


class FourierCritic(LinearTDCritic):
    """Linear TD(lambda) on the order-``order`` Fourier basis of a bounded observation."""

    def __init__(
        self,
        order: int,
        low: Tensor,
        high: Tensor,
        batch: int,
        gamma: float,
        lam: float,
        lr: float,
    ) -> None:
        dims = len(low)
        check_fourier_size(order, dims, batch)
        self.low, self.high = low.float(), high.float()
        self.coefficients = (
            torch.tensor(
                list(itertools.product(range(order + 1), repeat=dims)), dtype=torch.float32
            )
            * math.pi
        )
        super().__init__(len(self.coefficients), batch, gamma, lam, lr)

    def features(self, obs: Tensor) -> Tensor:
        return torch.cos(scale_to_unit(obs, self.low, self.high) @ self.coefficients.T)


class TabularCritic(LinearTDCritic):
    """Tabular TD(lambda): one weight per state of a ``Discrete(states)`` observation."""

    def __init__(self, states: int, batch: int, gamma: float, lam: float, lr: float) -> None:
        self.states = states
        super().__init__(states, batch, gamma, lam, lr)

    def features(self, obs: Tensor) -> Tensor:
        return nn.functional.one_hot(obs.long().flatten(), self.states).float()


class NeuralCritic:
    """A small tanh MLP ``V(s)`` trained by semi-gradient TD(0) with Adam on the batch of the
    current transitions (lambda is not used: no per-weight traces)."""

    def __init__(
        self, obs_dim: int, hidden: int, gamma: float, lr: float, generator: torch.Generator
    ) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(2**31, (), generator=generator)))
            self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.gamma = gamma

    def value(self, obs: Tensor) -> Tensor:
        return self.net(obs.float()).squeeze(-1)

    def start(self, rows: Tensor) -> None:
        """No traces to clear."""

    def update(
        self, obs: Tensor, next_obs: Tensor, reward: Tensor, terminated: Tensor, live: Tensor
    ) -> Tensor:
        with torch.no_grad():
            target = reward + self.gamma * (1.0 - terminated) * self.value(next_obs)
        value = self.value(obs)
        delta = (target - value) * live
        loss = (delta.square()).sum() / live.sum().clamp(min=1.0)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return delta.detach()

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
