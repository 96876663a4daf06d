"""NIR export/import: neurorl's own round trip, and what snnTorch and Norse make of the file.

Conventions under test (see ``neurorl.export.nir``): tau = dt / (1 - beta), r = 1,
v_leak = 0, Affine weights and bias scaled by tau / dt, dt = 0.1 ms (snnTorch's fixed
1e-4 s); NIR's LIF resets to 0 in both peers, in the same step as the spike.

The peers compute in float32 with the scaled weights (and, in snnTorch, a threshold divided
by dt / tau), so their membranes equal neurorl's only up to float32 round-off. Spikes agree
exactly unless a membrane lands within ~1e-7 of the threshold: measured here, 0 differences
in 51,200 output neuron-steps for networks like the ones below, and 4 in 2,048,000 for
8-256-256-16 networks. The seeds below give exact agreement; a failure after a BLAS or torch
upgrade would first need a look at how close the membranes were to threshold.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import warnings

import nir
import numpy as np
import pytest
import torch
from torch import Tensor

from neurorl.core.layers import cuba_lif_sequence
from neurorl.core.lif import CubaLIFParameters, LIFParameters, cuba_lif_step
from neurorl.errors import NeurorlError
from neurorl.experiments.registry import get_experiment
from neurorl.export.nir import (
    NIRCompatibilityWarning,
    cuba_lif_to_nir,
    from_nir,
    read_graph,
    to_nir,
    write_graph,
)
from neurorl.nets.spiking_mlp import SpikingMLP

SIZES = (6, 48, 32, 4)
BATCH = 64


def make_policy(reset: str = "hard", seed: int = 0, steps: int = 12):
    """A seeded random policy that spikes at a moderate rate, and random input currents."""
    generator = torch.Generator().manual_seed(seed)
    net = SpikingMLP(SIZES, LIFParameters(beta=0.9, threshold=1.0, reset=reset), steps)
    params = net.init(1, generator)[0] * 2.5
    currents = torch.randn(1, BATCH, SIZES[0], generator=generator)
    return net, params, currents


def neurorl_spikes_per_step(net: SpikingMLP, params: Tensor, currents: Tensor) -> Tensor:
    """Output spikes ``[steps, B, out]`` from neurorl's own forward: counts after k steps."""
    counts = [
        dataclasses.replace(net, steps=k).forward(currents, params[None])[0][0]
        for k in range(1, net.steps + 1)
    ]
    return torch.diff(torch.stack(counts), dim=0, prepend=torch.zeros_like(counts[0])[None])


def run_peer(module, currents: Tensor, steps: int) -> Tensor:
    """Drive a nirtorch-built module with the same input for ``steps`` steps: ``[T, B, out]``."""
    outputs, state = [], None
    for _ in range(steps):
        output, state = module(currents[0]) if state is None else module(currents[0], state)
        outputs.append(output)
    return torch.stack(outputs)


def assert_non_trivial(spikes: Tensor) -> None:
    rate = spikes.mean().item()
    assert 0.05 < rate < 0.95, f"test network spikes at rate {rate}: not informative"


def export_quietly(net, params, **kwargs) -> nir.NIRGraph:
    with pytest.warns(NIRCompatibilityWarning) if net.neuron.reset == "soft" else _no_warning():
        return to_nir(net, params, **kwargs)


@contextlib.contextmanager
def _no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", NIRCompatibilityWarning)
        yield


# --------------------------------------------------------------------------------------
# neurorl -> file -> neurorl


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_file_round_trip_gives_identical_spike_counts(tmp_path, reset):
    net, params, currents = make_policy(reset)
    path = tmp_path / "policy.nir"
    write_graph(path, export_quietly(net, params))
    assert [p.name for p in tmp_path.iterdir()] == ["policy.nir"]  # no temporary left

    net2, params2 = from_nir(read_graph(path))

    assert net2 == net  # sizes, steps, beta (exactly 0.9 again), threshold, reset, surrogate
    assert torch.equal(params2, params)
    counts, total = net.forward(currents, params[None])
    counts2, total2 = net2.forward(currents, params2[None])
    assert torch.equal(counts2, counts) and torch.equal(total2, total)
    assert_non_trivial(counts / net.steps)
    assert counts.std() > 0


def test_graph_uses_the_documented_nir_parameters():
    net, params, _ = make_policy("hard")
    graph = to_nir(net, params, dt_ms=0.5)
    assert list(graph.nodes) == ["input", "fc0", "lif0", "fc1", "lif1", "fc2", "lif2", "output"]
    assert graph.metadata["dt"] == pytest.approx(5e-4) and graph.metadata["steps"] == net.steps
    for index, (weight, bias) in enumerate(net.unflatten(params[None])):
        fc, lif = graph.nodes[f"fc{index}"], graph.nodes[f"lif{index}"]
        np.testing.assert_allclose(lif.tau, 5e-4 / (1 - 0.9))
        np.testing.assert_array_equal(lif.r, 1.0)
        np.testing.assert_array_equal(lif.v_leak, 0.0)
        np.testing.assert_array_equal(lif.v_threshold, 1.0)
        np.testing.assert_allclose(fc.weight, weight[0].T.double().numpy() * 10, rtol=1e-12)
        np.testing.assert_allclose(fc.bias, bias[0, 0].double().numpy() * 10, rtol=1e-12)
    # the dt travels with the file: reading with another dt gives another beta
    assert from_nir(graph)[0].neuron.beta == 0.9
    assert from_nir(graph, dt_ms=0.25)[0].neuron.beta == pytest.approx(0.95)


def test_per_neuron_membrane_round_trips_and_warns(tmp_path):
    beta = torch.linspace(0.8, 0.95, 16)
    net = SpikingMLP((5, 16, 16), LIFParameters(beta=beta, reset="hard"), steps=6)
    params = net.init(1, torch.Generator().manual_seed(1))[0] * 2
    with pytest.warns(NIRCompatibilityWarning, match="snnTorch"):
        graph = to_nir(net, params)
    write_graph(tmp_path / "p.nir", graph)
    net2, params2 = from_nir(read_graph(tmp_path / "p.nir"))
    assert torch.equal(net2.neuron.beta, beta)
    assert torch.equal(params2, params)
    currents = torch.randn(1, 32, 5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(
        net2.forward(currents, params2[None])[0], net.forward(currents, params[None])[0]
    )


# --------------------------------------------------------------------------------------
# what the peers read


def snntorch_module(graph: nir.NIRGraph):
    pytest.importorskip("nirtorch")  # snnTorch's NIR import needs it but does not declare it
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "[warning] scaling weights"
        return import_from_nir(graph)


def test_snntorch_reproduces_hard_reset_spikes_per_step(tmp_path):
    net, params, currents = make_policy("hard", seed=0)
    write_graph(tmp_path / "policy.nir", to_nir(net, params))
    module = snntorch_module(read_graph(tmp_path / "policy.nir"))

    expected = neurorl_spikes_per_step(net, params, currents)
    got = run_peer(module, currents, net.steps)

    assert_non_trivial(expected)
    assert torch.equal(got, expected)


def test_snntorch_reads_a_soft_reset_as_a_reset_to_zero(tmp_path):
    """NIR's LIF cannot express reset by subtraction; snnTorch builds Leaky(reset="zero").

    So the file of a soft-reset policy is, for snnTorch, the same weights with a hard reset
    to 0: exactly neurorl's hard-reset spikes, and not the soft-reset ones.
    """
    net, params, currents = make_policy("soft", seed=0)
    with pytest.warns(NIRCompatibilityWarning, match="reset"):
        write_graph(tmp_path / "policy.nir", to_nir(net, params))
    module = snntorch_module(read_graph(tmp_path / "policy.nir"))
    got = run_peer(module, currents, net.steps)

    hard = dataclasses.replace(net, neuron=net.neuron._replace(reset="hard", v_reset=0.0))
    assert torch.equal(got, neurorl_spikes_per_step(hard, params, currents))
    assert not torch.equal(got, neurorl_spikes_per_step(net, params, currents))


@pytest.mark.filterwarnings("ignore:nirtorch.load is being deprecated:DeprecationWarning")
def test_norse_reproduces_hard_reset_spikes_per_step(tmp_path):
    norse_torch = pytest.importorskip("norse.torch")
    net, params, currents = make_policy("hard", seed=1)
    write_graph(tmp_path / "policy.nir", to_nir(net, params))
    graph = read_graph(tmp_path / "policy.nir")
    module = norse_torch.from_nir(graph, dt=float(graph.metadata["dt"]))

    expected = neurorl_spikes_per_step(net, params, currents)
    assert_non_trivial(expected)
    assert torch.equal(run_peer(module, currents, net.steps), expected)
    # Norse's default dt (1e-3 s) is another discretisation of the same tau: other spikes
    module = norse_torch.from_nir(graph)
    assert not torch.equal(run_peer(module, currents, net.steps), expected)


def test_cuba_lif_stack_is_reproduced_by_snntorch():
    generator = torch.Generator().manual_seed(3)
    sizes = (6, 32, 4)
    layers = [
        (torch.randn(n_in, n_out, generator=generator) / n_in**0.5, torch.randn(n_out) * 0.1)
        for n_in, n_out in itertools.pairwise(sizes)
    ]
    neuron = CubaLIFParameters(alpha=0.8, beta=0.9, threshold=1.0, reset="hard")
    currents = torch.randn(1, BATCH, sizes[0], generator=generator) * 2
    states, expected = [None] * len(layers), []
    for _ in range(20):
        x = currents[0]
        for index, (weight, bias) in enumerate(layers):
            x, states[index] = cuba_lif_step(x @ weight + bias, states[index], neuron)
        expected.append(x)
    expected = torch.stack(expected)

    graph = cuba_lif_to_nir(layers, neuron)
    got = run_peer(snntorch_module(graph), currents, 20)

    assert_non_trivial(expected)
    assert torch.equal(got, expected)


def test_deep_q_network_file_gives_its_hidden_spikes_in_snntorch(tmp_path):
    """cartpole-snn-dqn's network as written to policy.nir, read by snnTorch up to the last
    spiking layer: the same spikes at every step as neurorl (the readout integrator ``I`` is
    read by neither peer's importer, so the graph is cut before it)."""
    config = get_experiment("cartpole-snn-dqn").default_config().net
    net = config.build(4, 2, torch.Generator().manual_seed(0))
    obs = torch.randn(BATCH, 4, generator=torch.Generator().manual_seed(1)) * 1.5
    net.observe(obs)
    with torch.no_grad():
        net.layers[0].weight.mul_(3.0)  # a livelier first layer than at initialisation
    write_graph(tmp_path / "policy.nir", net.to_nir())
    graph = read_graph(tmp_path / "policy.nir")
    last = f"cuba{len(config.hidden) - 1}"
    nodes = {
        name: node for name, node in graph.nodes.items() if name.startswith(("in", "fc", "cu"))
    }
    width = np.array([config.hidden[-1]])
    nodes["output"] = nir.Output(output_type={"output": width})
    edges = [edge for edge in graph.edges if edge[1] in nodes and edge[0] in nodes]
    sub = nir.NIRGraph(nodes=nodes, edges=[*edges, (last, "output")])

    with torch.no_grad():
        currents = net.layers[0](net.encode(obs)).expand(config.steps, BATCH, -1)
        for index in range(len(config.hidden)):
            spikes, _ = cuba_lif_sequence(currents, net.neuron(index))
            currents = net.layers[index + 1](spikes)
    got = run_peer(snntorch_module(sub), net.encode(obs)[None], config.steps)
    assert_non_trivial(spikes)
    assert torch.equal(got, spikes)


# --------------------------------------------------------------------------------------
# bad files and graphs neurorl cannot represent


def test_truncated_corrupted_or_missing_file_is_a_neurorl_error(tmp_path):
    net, params, _ = make_policy("hard")
    path = tmp_path / "policy.nir"
    write_graph(path, to_nir(net, params))
    data = path.read_bytes()

    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NeurorlError, match="corrupted or truncated"):
        read_graph(path)
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(NeurorlError, match="corrupted or truncated") as error:
        read_graph(path)
    assert "\n" not in str(error.value)
    with pytest.raises(NeurorlError, match="does not exist"):
        read_graph(tmp_path / "missing.nir")


def _layer(n_in: int, n_out: int, tau: float = 1e-3):
    return (
        nir.Affine(np.ones((n_out, n_in)), np.zeros(n_out)),
        nir.LIF(
            tau=np.full(n_out, tau),
            r=np.ones(n_out),
            v_leak=np.zeros(n_out),
            v_threshold=np.ones(n_out),
            v_reset=np.zeros(n_out),
        ),
    )


def test_graphs_neurorl_cannot_represent_are_refused():
    cuba = cuba_lif_to_nir([(torch.ones(3, 2), torch.zeros(2))], CubaLIFParameters(reset="hard"))
    with pytest.raises(NeurorlError, match="CubaLIF"):
        from_nir(cuba)

    with pytest.raises(NeurorlError, match="layer-specific tau"):
        from_nir(nir.NIRGraph.from_list(*_layer(3, 4, tau=1e-3), *_layer(4, 2, tau=2e-3)))

    with pytest.raises(NeurorlError, match="tau"):
        from_nir(nir.NIRGraph.from_list(*_layer(3, 2, tau=1e-5)))  # tau < dt = 1e-4 s

    fc, lif = _layer(3, 2)
    nodes = {"input": nir.Input(np.array([3])), "fc": fc, "lif": lif, "lif_b": lif}
    nodes["output"] = nir.Output(np.array([2]))
    edges = [("input", "fc"), ("fc", "lif"), ("fc", "lif_b"), ("lif", "output")]
    branching = nir.NIRGraph(nodes=nodes, edges=[*edges, ("lif_b", "output")])
    with pytest.raises(NeurorlError, match="branches"):
        from_nir(branching)

    # a foreign but representable graph is read with NIR's hard reset and the general r, v_leak
    fc, lif = _layer(3, 2, tau=1e-3)
    lif.r, lif.v_leak = np.full(2, 4.0), np.full(2, 0.5)
    net, params = from_nir(nir.NIRGraph.from_list(fc, lif))
    assert net.sizes == (3, 2) and net.neuron.reset == "hard"
    assert net.neuron.beta == pytest.approx(0.9)
    weight, bias = net.unflatten(params[None])[0]
    torch.testing.assert_close(weight, torch.full((1, 3, 2), 0.4))  # r * dt / tau
    torch.testing.assert_close(bias, torch.full((1, 1, 2), 0.05))  # v_leak * dt / tau


def test_export_refuses_a_population():
    net, _, _ = make_policy()
    with pytest.raises(NeurorlError, match="one network"):
        to_nir(net, net.init(3))


def test_failed_write_keeps_the_previous_file(tmp_path):
    net, params, _ = make_policy("hard")
    path = tmp_path / "policy.nir"
    write_graph(path, to_nir(net, params))
    before = path.read_bytes()
    broken = to_nir(net, params)
    broken.nodes["fc0"].weight = object()  # h5py cannot store it
    with pytest.raises(Exception):  # noqa: B017 - whatever nir/h5py raise
        write_graph(path, broken)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["policy.nir"]
