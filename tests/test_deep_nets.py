"""The deep SNN/ANN function approximator of Akl et al. 2023 (neurorl.nets.deep)."""

import warnings

import nir
import pytest
import torch

from neurorl.core.lif import CubaLIFParameters, cuba_lif_step
from neurorl.errors import NotExportableError
from neurorl.export.nir import read_graph, write_graph
from neurorl.nets.deep import DeepNetConfig


def build(seed: int = 0, n_in: int = 4, n_out: int = 2, **config):
    return DeepNetConfig(**config).build(n_in, n_out, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"kind": "ann"},
        {"encoding": "two_neuron", "randomise": "uniform"},
        {"encoding": "population", "readout": "rate_mean"},
        {"encoding": "poisson", "reset": "soft"},
    ],
)
def test_shapes_and_surrogate_gradients(config):
    net = build(**config)
    x = torch.randn(5, 7, 4)
    net.observe(x)
    y = net(x, torch.Generator().manual_seed(1))
    assert y.shape == (5, 7, 2)
    y.sum().backward()
    grad = net.layers[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_batch_is_independent_samples_over_t():
    """A batch gives each sample's own output, and T steps run the core CubaLIF step."""
    net = build(hidden=(8,), steps=4, threshold=0.3)
    x = torch.randn(6, 4)
    batched = net(x)
    single = torch.cat([net(x[i : i + 1]) for i in range(6)])
    torch.testing.assert_close(batched, single)
    # by hand: constant current W x for 4 steps, spike counts through the output layer
    neuron = CubaLIFParameters(alpha=0.5, beta=0.5, threshold=0.3, reset="hard")
    current, state, count = net.layers[0](x), None, 0
    for _ in range(4):
        z, state = cuba_lif_step(current, state, neuron)
        count = count + z
    torch.testing.assert_close(batched, net.layers[1](count))


def test_randomisation_is_reproducible_from_the_seed():
    a, b, c = (build(seed, randomise="normal", spread=0.2) for seed in (3, 3, 4))
    assert torch.equal(a.to_vector(), b.to_vector())
    assert not torch.equal(a.threshold0, c.threshold0)
    assert a.threshold0.std() > 0 and (a.alpha0 >= 0).all() and (a.alpha0 <= 1).all()
    assert a.threshold0.shape == (64,)


def test_vector_round_trip():
    a = build(0, encoding="population", readout="rate_mean")
    b = build(1, encoding="population", readout="rate_mean")
    b.load_vector(a.to_vector())
    x = torch.randn(3, 4)
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"steps": 0}, "net.steps must be >= 1"),
        ({"current_decay": 1.5}, "net.current_decay"),
        ({"voltage_decay": -0.1}, "net.voltage_decay"),
        ({"threshold": 0.0}, "net.threshold must be > 0"),
        ({"surrogate": "nope"}, "net.surrogate 'nope' is unknown"),
        ({"hidden": ()}, "net.hidden"),
        ({"spread": 1.0}, "net.spread"),
        ({"kind": "ann", "readout": "rate_mean"}, "needs a spiking network"),
    ],
)
def test_validation(config, fragment):
    with pytest.raises(ValueError, match=fragment.replace(".", r"\.")):
        DeepNetConfig(**config)


def test_energy_counts_by_hand():
    """2 inputs -> 2 hidden LIF -> 3 outputs; weights chosen so that spikes are known."""
    net = build(n_in=2, n_out=3, hidden=(2,), steps=2, threshold=0.5, bias=False)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    _, activity = net.run(torch.tensor([[1.0, 1.0]]))
    # neuron 0: i = 1, v = 1 > 0.5 spikes at t0 (hard reset), i = 1.5, v = 1.5 spikes at t1
    assert activity.layer_spikes[0].tolist() == [2.0]
    energy = net.energy(activity)
    assert energy["spikes"].tolist() == [2.0]
    assert energy["synops"].tolist() == [6.0]  # 2 spikes x fan-out 3
    assert energy["macs"].tolist() == [4.0]  # the dense input layer, once per decision
    ann = build(n_in=2, n_out=3, hidden=(2,), kind="ann")
    ann_energy = ann.energy(ann.run(torch.zeros(1, 2))[1])
    assert ann_energy["macs"].tolist() == [2 * 2 + 2 * 3] and ann_energy["spikes"].item() == 0


@pytest.mark.parametrize("readout", ["membrane_last", "rate_mean"])
def test_nir_export_reads_back(tmp_path, readout):
    net = build(readout=readout, randomise="normal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per-neuron parameters: a peer compatibility note
        graph = net.to_nir()
    write_graph(tmp_path / "policy.nir", graph)
    back = read_graph(tmp_path / "policy.nir")
    spiking = 3 if readout == "rate_mean" else 2
    expected = {"input", "readout_fc", "readout", "output"}
    expected |= {f"{p}{i}" for i in range(spiking) for p in ("fc", "cuba")}
    assert set(back.nodes) == expected
    assert isinstance(back.nodes["cuba0"], nir.CubaLIF) and isinstance(back.nodes["readout"], nir.I)
    assert back.nodes["readout_fc"].weight.shape == (2, 20 if readout == "rate_mean" else 64)
    assert back.metadata["steps"] == 3
    with pytest.raises(NotExportableError):
        build(kind="ann").to_nir()


def test_nir_readout_reproduces_the_output():
    """Simulating the exported chain step by step (Euler, r = 1/dt) gives the net's output."""
    net = build(hidden=(16,), steps=3, bias=True)
    with torch.no_grad():
        net.layers[-1].bias.normal_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = net.to_nir()
    x = torch.randn(5, 4)
    fc0, fc_out = graph.nodes["fc0"], graph.nodes["readout_fc"]
    current = x.double() @ torch.tensor(fc0.weight).T + torch.tensor(fc0.bias)
    neuron = CubaLIFParameters(alpha=0.5, beta=0.5, threshold=0.2, reset="hard")
    state, v = None, 0.0
    for _ in range(3):
        z, state = cuba_lif_step(current, state, neuron)
        v = v + z @ torch.tensor(fc_out.weight).T + torch.tensor(fc_out.bias)
    torch.testing.assert_close(v.float(), net(x), rtol=1e-5, atol=1e-5)
