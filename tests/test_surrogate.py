"""Surrogate spike functions: Heaviside forward, the documented pseudo-derivative backward,
each pseudo-derivative the exact derivative of its smooth antiderivative, and BPTT through
the LIF equal to the hand-derived adjoint recursion."""

from __future__ import annotations

import math

import pytest
import torch

from neurorl.core.lif import LIFParameters, lif_step, run_sequence
from neurorl.core.surrogate import PSEUDO_DERIVATIVES, Surrogate, _SpikeFunction

NAMES = list(PSEUDO_DERIVATIVES)


def antiderivative(name: str, x: torch.Tensor, s: float) -> torch.Tensor:
    """The smooth step F each pseudo-derivative g = F' comes from (derived by hand):

    fast_sigmoid  F = x / (1 + s|x|)               (x > 0: ((1 + s x) - s x) / (1 + s x)^2)
    arctan        F = (1/pi) arctan(pi/2 s x)
    triangle      F = s x - s^2 x|x| / 2 on |x| <= 1/s, +-1/2 outside (F' = s (1 - s|x|))
    straight_through  F = x
    """
    if name == "fast_sigmoid":
        return x / (1.0 + s * x.abs())
    if name == "arctan":
        return torch.atan(math.pi / 2.0 * s * x) / math.pi
    if name == "triangle":
        inside = s * x - s * s * x * x.abs() / 2.0
        return torch.where(x.abs() <= 1.0 / s, inside, 0.5 * torch.sign(x))
    if name == "straight_through":
        return x
    raise AssertionError(name)


# Kinks of g: 0 for fast_sigmoid and triangle, +-1/s for triangle. Points at least 0.05 away.
SLOPE = 2.0
POINTS = torch.tensor([-3.0, -0.9, -0.3, -0.05, 0.05, 0.2, 0.45, 0.6, 2.5], dtype=torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_forward_is_exactly_the_heaviside(name: str) -> None:
    """z = 1 iff x > 0 (0 at x = 0 and -0), with or without autograd, in the input's dtype."""
    x = torch.tensor(
        [-math.inf, -1.0, -1e-30, -0.0, 0.0, 1e-45, 1e-30, 0.5, 3.0, math.inf], dtype=torch.float64
    )
    expected = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], dtype=torch.float64)
    surrogate = Surrogate(name, 5.0)
    assert torch.equal(surrogate(x), expected)
    z = surrogate(x.clone().requires_grad_())
    assert z.dtype == torch.float64 and torch.equal(z.detach(), expected)


@pytest.mark.parametrize("name", NAMES)
def test_backward_is_the_documented_pseudo_derivative(name: str) -> None:
    """dL/dx = dL/dz * Surrogate.derivative(x), bit for bit."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, generator=gen, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(200, generator=gen, dtype=torch.float64)
    surrogate = Surrogate(name, 3.0)
    surrogate(x).backward(grad_out)
    assert torch.equal(x.grad, grad_out * surrogate.derivative(x.detach()))


@pytest.mark.parametrize("name", NAMES)
def test_pseudo_derivative_is_the_derivative_of_its_smooth_step(name: str) -> None:
    """gradcheck (float64 central differences) of _SpikeFunction's own backward against the
    smooth step F it claims to differentiate: the forward is swapped for F, the backward and
    the saved context are the library's."""

    class SmoothStep(_SpikeFunction):
        @staticmethod
        def forward(ctx, x, slope, derivative):
            _SpikeFunction.forward(ctx, x, slope, derivative)
            return antiderivative(name, x, slope)

    x = POINTS.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: SmoothStep.apply(x, SLOPE, PSEUDO_DERIVATIVES[name]), (x,), eps=1e-6, atol=1e-8
    )


@pytest.mark.parametrize(
    ("name", "area"), [("fast_sigmoid", 0.5), ("arctan", 1.0), ("triangle", 1.0)]
)
def test_pseudo_derivative_area(name: str, area: float) -> None:
    """The integral of g over the line at slope 4: 1 for arctan and triangle (a normalised
    step), but 2 / slope for SuperSpike's fast sigmoid (its peak is 1 whatever the slope).
    Trapezoid rule on [-1000, 1000]; the neglected tails are < 1e-3."""
    x = torch.linspace(-1000.0, 1000.0, 2_000_001, dtype=torch.float64)
    integral = torch.trapezoid(Surrogate(name, 4.0).derivative(x), x).item()
    assert integral == pytest.approx(area, abs=1e-3)


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("name", ["fast_sigmoid", "arctan"])
def test_bptt_through_lif_is_the_adjoint_recursion(name: str, reset: str) -> None:
    """Gradient of the spike count L = sum z[t] with respect to every input x[t], by autograd
    through lif_step, equals the surrogate adjoint derived by hand (reset not detached):

        v[t] = beta v'[t-1] + x[t],  z[t] = H(v[t] - thr),  g[t] = g(v[t] - thr)
        soft: v'[t] = v[t] - thr z[t]   ->  dv'/dv = 1 - thr g
        hard: v'[t] = v[t] (1 - z[t])   ->  dv'/dv = 1 - z - v g
        dL/dv[t] = g[t] + dL/dv'[t] dv'/dv[t],  dL/dv'[t-1] = beta dL/dv[t],  dL/dx[t] = dL/dv[t]

    (A finite difference of L itself would be 0 almost everywhere: the surrogate gradient is
    not the derivative of the spiking forward pass, so the recursion is the honest reference.)
    """
    beta, thr, steps = 0.9, 1.0, 40
    params = LIFParameters(beta=beta, threshold=thr, reset=reset, surrogate=Surrogate(name, 4.0))
    x = 0.4 * torch.rand(steps, 1, 1, 6, generator=torch.Generator().manual_seed(3)).double()
    x.requires_grad_()
    spikes, _ = run_sequence(lif_step, x, None, params)
    spikes.sum().backward()
    assert spikes.sum() > 0 and x.grad.abs().min() > 0 and x.grad.isfinite().all()

    with torch.no_grad():
        vs, state = [], None
        for xt in x.unbind(0):
            vs.append(beta * (0.0 if state is None else state.v) + xt)
            _, state = lif_step(xt, state, params)
        expected, adj_post = torch.empty_like(x), torch.zeros_like(x[0])
        for t in reversed(range(steps)):
            v = vs[t]
            g, z = params.surrogate.derivative(v - thr), (v > thr).double()
            dpost = 1.0 - thr * g if reset == "soft" else 1.0 - z - v * g
            expected[t] = g + adj_post * dpost
            adj_post = beta * expected[t]
    torch.testing.assert_close(x.grad, expected, rtol=1e-12, atol=1e-14)
