"""neurorl's LIF and current-based LIF against snnTorch 1.0.0's Leaky and Synaptic.

snnTorch with ``reset_delay=False`` computes, per step (read from its source):

    reset = H(mem[t-1] - thr)                         (on the already reset membrane)
    Leaky:    mem = beta mem[t-1] + x - reset thr      ("subtract")
              mem = beta (1 - reset) mem[t-1] + x      ("zero")
    Synaptic: syn = alpha syn[t-1] + x,  mem = beta mem[t-1] + syn, then as above
    spk = H(mem - thr);  mem -= (spk - reset) thr  or  (spk - reset) mem

While the reset membrane stays at or below threshold, ``reset`` is 0 and this is neurorl's
same-step reset term for term, in the same floating-point order, so the spike trains and
membranes must agree bit for bit. A hard reset to 0 always stays there; a soft reset does
when ``v <= 2 thr`` before the reset, which the input ranges below guarantee (and the tests
check). Beyond it the two differ: see the last test.
"""

from __future__ import annotations

import pytest
import snntorch
import torch

from neurorl.core.lif import (
    CubaLIFParameters,
    LIFParameters,
    cuba_lif_step,
    lif_step,
    run_sequence,
)

T, P, B, N = 200, 2, 3, 16
THRESHOLD = 1.0
RESETS = {"soft": "subtract", "hard": "zero"}


def decay(kind: str, low: float, high: float, gen: torch.Generator) -> tuple[object, object]:
    """One decay factor in neurorl's broadcast shape and in snnTorch's ``[P*B, N]`` layout."""
    if kind == "scalar":
        return (low + high) / 2, (low + high) / 2
    if kind == "per_neuron":
        d = low + (high - low) * torch.rand(N, generator=gen)
        return d, d
    d = low + (high - low) * torch.rand(P, 1, 1, generator=gen)  # per population member
    return d, d.repeat_interleave(B, dim=0).view(P * B, 1)


def uniform(low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(T, P * B, N, generator=gen)


@pytest.mark.parametrize("kind", ["scalar", "per_neuron", "per_member"])
@pytest.mark.parametrize("reset", RESETS)
def test_lif_equals_snntorch_leaky(reset: str, kind: str) -> None:
    """Membrane decay in [0.5, 0.9] and x in [-0.5, 1]: v <= 0.9 + 1 < 2 thr before a reset."""
    gen = torch.Generator().manual_seed(11)
    beta, beta_snn = decay(kind, 0.5, 0.9, gen)
    xs = uniform(-0.5, 1.0, gen)
    params = LIFParameters(beta=beta, threshold=THRESHOLD, reset=reset)
    spikes, state = [], None
    for x in xs.view(T, P, B, N).unbind(0):
        z, state = lif_step(x, state, params)
        assert (state.v <= THRESHOLD).all()  # snnTorch's reset signal stays 0
        spikes.append(z)
    leaky = snntorch.Leaky(
        beta=beta_snn, threshold=THRESHOLD, reset_mechanism=RESETS[reset], reset_delay=False
    )
    mem, spikes_snn = torch.zeros(P * B, N), []
    for x in xs.unbind(0):
        spk, mem = leaky(x, mem)
        spikes_snn.append(spk)
    spikes = torch.stack(spikes).view(T, P * B, N)
    assert 0.05 < spikes.mean() < 0.95
    assert torch.equal(spikes, torch.stack(spikes_snn))
    assert torch.equal(state.v.view(P * B, N), mem)


@pytest.mark.parametrize("kind", ["scalar", "per_neuron", "per_member"])
@pytest.mark.parametrize("reset", RESETS)
def test_cuba_lif_equals_snntorch_synaptic(reset: str, kind: str) -> None:
    """alpha = 0.5, beta in [0.6, 0.9], x in [-0.3, 0.5]: i <= 1, v <= 0.9 + 1 < 2 thr."""
    gen = torch.Generator().manual_seed(12)
    beta, beta_snn = decay(kind, 0.6, 0.9, gen)
    xs = uniform(-0.3, 0.5, gen)
    params = CubaLIFParameters(alpha=0.5, beta=beta, threshold=THRESHOLD, reset=reset)
    spikes, state = [], None
    for x in xs.view(T, P, B, N).unbind(0):
        z, state = cuba_lif_step(x, state, params)
        assert (state.v <= THRESHOLD).all()
        spikes.append(z)
    synaptic = snntorch.Synaptic(
        alpha=0.5,
        beta=beta_snn,
        threshold=THRESHOLD,
        reset_mechanism=RESETS[reset],
        reset_delay=False,
    )
    syn, mem, spikes_snn = torch.zeros(P * B, N), torch.zeros(P * B, N), []
    for x in xs.unbind(0):
        spk, syn, mem = synaptic(x, syn, mem)
        spikes_snn.append(spk)
    spikes = torch.stack(spikes).view(T, P * B, N)
    assert 0.05 < spikes.mean() < 0.95
    assert torch.equal(spikes, torch.stack(spikes_snn))
    assert torch.equal(state.i.view(P * B, N), syn)
    assert torch.equal(state.v.view(P * B, N), mem)


def test_peers_differ_once_a_soft_reset_leaves_v_above_threshold() -> None:
    """x = (2.5, 0.5, 0), beta = 0.5. neurorl: v = 2.5 -> spike, 1.5; v = 1.25 -> spike, 0.25.
    snnTorch: step 2 sees reset = H(1.5 - thr) = 1, so mem = 1.25 - 1 = 0.25, no spike, and
    the "avoid double reset" term adds thr back: it ends the step at 1.25, above threshold,
    without having spiked. The peers implement the same equations only below 2 thr."""
    xs = torch.tensor([2.5, 0.5, 0.0]).view(3, 1, 1, 1)
    params = LIFParameters(beta=0.5, threshold=THRESHOLD, reset="soft")
    spikes, _ = run_sequence(lif_step, xs, None, params)
    assert spikes.flatten().tolist() == [1.0, 1.0, 0.0]
    leaky = snntorch.Leaky(beta=0.5, threshold=THRESHOLD, reset_delay=False)
    mem, trace = torch.zeros(1), []
    for x in xs.view(3, 1).unbind(0):
        spk, mem = leaky(x, mem)
        trace.append((spk.item(), mem.item()))
    assert trace == [(1.0, 1.5), (0.0, 1.25), (0.0, 0.625)]
