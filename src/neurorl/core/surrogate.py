"""Surrogate-gradient spike functions.

Forward pass: the Heaviside step ``z = H(x)`` with ``x = v - threshold`` (a spike when the
membrane is strictly above threshold). Backward pass: a smooth pseudo-derivative
``dz/dx ~ g(x; slope)`` (Neftci, Mostafa & Zenke 2019, "Surrogate gradient learning in SNNs").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

PseudoDerivative = Callable[[Tensor, float], Tensor]


def fast_sigmoid_derivative(x: Tensor, slope: float) -> Tensor:
    """SuperSpike (Zenke & Ganguli 2018): g(x) = 1 / (slope |x| + 1)^2."""
    return 1.0 / (slope * x.abs() + 1.0) ** 2


def arctan_derivative(x: Tensor, slope: float) -> Tensor:
    """Derivative of (1/pi) arctan(pi/2 slope x): g(x) = (slope/2) / (1 + (pi/2 slope x)^2)."""
    return (slope / 2.0) / (1.0 + (math.pi / 2.0 * slope * x) ** 2)


def triangle_derivative(x: Tensor, slope: float) -> Tensor:
    """Piecewise-linear (Bellec et al. 2018): g(x) = slope * max(0, 1 - slope |x|), area 1."""
    return slope * torch.clamp(1.0 - slope * x.abs(), min=0.0)


def straight_through_derivative(x: Tensor, slope: float) -> Tensor:
    """Straight-through estimator (Bengio et al. 2013): g(x) = 1 (slope unused)."""
    return torch.ones_like(x)


PSEUDO_DERIVATIVES: dict[str, PseudoDerivative] = {
    "fast_sigmoid": fast_sigmoid_derivative,
    "arctan": arctan_derivative,
    "triangle": triangle_derivative,
    "straight_through": straight_through_derivative,
}


class _SpikeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, slope: float, derivative: PseudoDerivative) -> Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        ctx.derivative = derivative
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return grad_output * ctx.derivative(x, ctx.slope), None, None


@dataclass(frozen=True)
class Surrogate:
    """A spike nonlinearity: ``Surrogate("fast_sigmoid", 25.0)(v - threshold)`` -> {0, 1}."""

    name: str = "fast_sigmoid"
    slope: float = 25.0

    def __post_init__(self) -> None:
        if self.name not in PSEUDO_DERIVATIVES:
            known = ", ".join(sorted(PSEUDO_DERIVATIVES))
            raise ValueError(f"unknown surrogate '{self.name}' (known: {known})")
        if self.slope <= 0:
            raise ValueError(f"surrogate slope must be > 0, got {self.slope}")

    def __call__(self, x: Tensor) -> Tensor:
        if not x.requires_grad:
            return (x > 0).to(x.dtype)
        return _SpikeFunction.apply(x, self.slope, PSEUDO_DERIVATIVES[self.name])

    def derivative(self, x: Tensor) -> Tensor:
        """The pseudo-derivative g(x) used in the backward pass."""
        return PSEUDO_DERIVATIVES[self.name](x, self.slope)
