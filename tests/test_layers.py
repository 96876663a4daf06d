"""The fused whole-sequence LIF (core/layers.py) against the plain step loop of core/lif.py."""

from __future__ import annotations

import pytest
import torch

from neurorl.core.layers import cuba_lif_sequence, lif_layer, lif_sequence
from neurorl.core.lif import (
    CubaLIFParameters,
    CubaLIFState,
    LIFParameters,
    LIFState,
    cuba_lif_step,
    lif_step,
    run_sequence,
)
from neurorl.core.surrogate import Surrogate

T, B, N_IN, N = 40, 8, 20, 16

PARAMS = {
    "soft": LIFParameters(beta=0.9, threshold=1.0, reset="soft"),
    "hard": LIFParameters(beta=0.8, threshold=0.7, reset="hard", v_reset=-0.3),
    "per-neuron": LIFParameters(
        beta=torch.linspace(0.5, 0.95, N),
        threshold=torch.linspace(0.5, 1.5, N),
        reset="soft",
        surrogate=Surrogate("arctan", 2.0),
    ),
    "hard-tensor": LIFParameters(
        beta=0.9, threshold=torch.linspace(0.5, 1.5, N), reset="hard", v_reset=0.0
    ),
}


def data(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, N_IN, generator=generator) < 0.3).float()
    weight = torch.randn(N_IN, N, generator=generator) * 0.6
    bias = torch.randn(N, generator=generator) * 0.1
    v0 = torch.randn(B, N, generator=generator) * 0.5
    return x, weight, bias, v0


def reference(currents, v0, params):
    return run_sequence(lif_step, currents, LIFState(v0), params)


@pytest.mark.parametrize("name", PARAMS)
def test_sequence_forward_is_bit_for_bit_the_step_loop(name):
    params = PARAMS[name]
    x, weight, bias, v0 = data()
    currents = x @ weight + bias
    expected, expected_state = reference(currents, v0, params)
    assert 0.05 < expected.mean() < 0.95
    for grad in (False, True):
        c = currents.clone().requires_grad_(grad)
        spikes, state = lif_sequence(c, params, LIFState(v0))
        assert torch.equal(spikes, expected)
        assert torch.equal(state.v, expected_state.v)
    assert torch.equal(
        lif_sequence(currents, params)[0], run_sequence(lif_step, currents, None, params)[0]
    )


@pytest.mark.parametrize("name", PARAMS)
def test_sequence_gradients_match_autograd_through_the_step_loop(name):
    params = PARAMS[name]
    x, weight, bias, v0 = data(1)
    currents = x @ weight + bias
    readout = torch.randn(T, B, N, generator=torch.Generator().manual_seed(5))

    def grads(run):
        c, v = currents.clone().requires_grad_(), v0.clone().requires_grad_()
        spikes, state = run(c, v)
        ((spikes * readout).sum() + (state.v**2).sum()).backward()
        return c.grad, v.grad

    expected = grads(lambda c, v: reference(c, v, params))
    got = grads(lambda c, v: lif_sequence(c, params, LIFState(v)))
    assert expected[0].abs().sum() > 0
    torch.testing.assert_close(got[0], expected[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[1], expected[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["soft", "hard"])
def test_layer_matches_matmul_then_step_loop(name):
    params = PARAMS[name]
    x, weight, bias, v0 = data(2)
    currents = torch.addmm(bias, x.reshape(-1, N_IN), weight).view(T, B, N)
    expected, _ = reference(currents, v0, params)

    with torch.no_grad():
        assert torch.equal(lif_layer(x, weight, bias, params, LIFState(v0))[0], expected)

    def grads(run):
        xs, w, b = x.clone().requires_grad_(), weight.clone().requires_grad_(), bias.clone()
        b.requires_grad_()
        spikes, _ = run(xs, w, b)
        spikes.sum().backward()
        return spikes.detach(), xs.grad, w.grad, b.grad

    ref = grads(lambda xs, w, b: reference(xs @ w + b, v0, params))
    got = grads(lambda xs, w, b: lif_layer(xs, w, b, params, LIFState(v0)))
    assert torch.equal(got[0], expected)
    for a, e in zip(got[1:], ref[1:], strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)


def test_population_weights_and_learned_parameters_take_the_general_path():
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(T, 3, B, N_IN, generator=generator)
    weight = torch.randn(3, N_IN, N, generator=generator).requires_grad_()
    bias = torch.zeros(3, 1, N)
    params = PARAMS["soft"]
    spikes, _ = lif_layer(x, weight, bias, params)
    expected, _ = run_sequence(lif_step, torch.matmul(x, weight) + bias, None, params)
    assert torch.equal(spikes, expected)

    beta = torch.tensor(0.9, requires_grad=True)
    learned = params._replace(beta=beta)
    spikes, _ = lif_sequence(torch.rand(T, B, N, generator=generator) * 0.5, learned)
    spikes.sum().backward()
    assert beta.grad is not None


def test_second_backward_through_the_same_graph_is_refused():
    x, weight, bias, _ = data()
    w = weight.clone().requires_grad_()
    spikes, _ = lif_layer(x, w, bias, PARAMS["soft"])
    spikes.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="inplace"):
        spikes.sum().backward()


CUBA = {
    "akl": CubaLIFParameters(alpha=0.5, beta=0.5, threshold=0.2, reset="hard"),
    "per-neuron": CubaLIFParameters(
        alpha=torch.linspace(0.2, 0.9, N),
        beta=torch.linspace(0.9, 0.3, N),
        threshold=torch.linspace(0.2, 1.0, N),
        reset="soft",
        surrogate=Surrogate("fast_sigmoid", 25.0),
    ),
}


@pytest.mark.parametrize("name", CUBA)
def test_cuba_sequence_is_the_step_loop_with_its_gradients(name):
    """Spikes and state bit for bit; gradients to the input and the initial state close."""
    params = CUBA[name]
    x, weight, bias, v0 = data(2)
    currents = (x @ weight + bias) * 0.5
    i0 = torch.randn(B, N, generator=torch.Generator().manual_seed(3)) * 0.2
    readout = torch.randn(T, B, N, generator=torch.Generator().manual_seed(4))

    def run(sequence):
        c, i, v = (t.clone().requires_grad_() for t in (currents, i0, v0))
        spikes, state = sequence(c, CubaLIFState(i, v))
        ((spikes * readout).sum() + (state.v**2).sum() + state.i.sum()).backward()
        return spikes, state, (c.grad, i.grad, v.grad)

    expected = run(lambda c, s: run_sequence(cuba_lif_step, c, s, params))
    got = run(lambda c, s: cuba_lif_sequence(c, params, s))
    assert 0.05 < expected[0].mean() < 0.95
    assert torch.equal(got[0], expected[0])
    assert torch.equal(got[1].v, expected[1].v) and torch.equal(got[1].i, expected[1].i)
    assert expected[2][0].abs().sum() > 0
    for grad, reference_grad in zip(got[2], expected[2], strict=True):
        torch.testing.assert_close(grad, reference_grad, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # from rest, no graph
        assert torch.equal(
            cuba_lif_sequence(currents, params)[0],
            run_sequence(cuba_lif_step, currents, None, params)[0],
        )
