"""The 200-neuron CartPole network of Haşegan et al. 2022 (neurorl.nets.cartpole_network)."""

import dataclasses

import pytest
import torch

from neurorl.core import configure_cpu
from neurorl.core.conductance import E_CELL, CellType, SynapticDrive, cell_parameters, step
from neurorl.core.decoders import spike_count_vote
from neurorl.nets.cartpole_network import (
    PAPER_PROJECTIONS,
    POPULATIONS,
    CartPoleNetworkConfig,
    Projection,
    build_network,
    initial_state,
    run_window,
)

configure_cpu()

MEANS = torch.tensor([-0.00646, -0.0363, 0.00529, 0.0475])
STDS = torch.tensor([1.0, 0.540, 0.0913, 0.821])


@pytest.fixture(scope="module")
def network():
    return build_network(generator=torch.Generator().manual_seed(0))


def random_observations(population, batch, generator):
    """Observations drawn from the receptive fields' normal distributions."""
    return MEANS + STDS * torch.randn(population, batch, 4, generator=generator)


def rates(network, weights, windows, batch, seed=1):
    """Mean rate (Hz) of each population over ``windows`` windows of random observations."""
    population = weights.es_ea.shape[0]
    generator = torch.Generator().manual_seed(seed)
    state = initial_state(network, population, batch)
    total = torch.zeros(network.num_neurons)
    for _ in range(windows):
        out = run_window(
            random_observations(population, batch, generator), state, network, weights, True
        )
        state = out.state
        total += out.spikes.sum((0, 1, 2))
    seconds = windows * network.config.window_ms / 1000 * population * batch
    return {name: float(total[s].mean()) / seconds for name, s in network.slices.items()}


def test_connectivity_has_exact_in_degrees_and_the_paper_structure(network):
    config = network.config
    for projection in config.projections:
        mask = network.connections[projection.name].mask
        assert mask.shape == (config.size(projection.pre), config.size(projection.post))
        assert (mask.sum(0) == config.in_degree(projection)).all(), projection.name
        if projection.pre == projection.post:
            assert not mask.diagonal().any()
    assert config.in_degree(Projection("IA", "EA", 18.0, p=0.4)) == 4  # round(0.4 * 10)
    for absent in ("EA->EA", "EM->EM", "EM->EA", "ES->EM"):
        assert absent not in network.connections
    assert int(network.connections["ES->EA"].mask.sum()) == 1000
    assert int(network.connections["EA->EM"].mask.sum()) == 800
    for name in ("IAL->EA", "IML->EM"):  # slow GABA: 3-12 ms, per synapse, whole steps
        c = network.connections[name]
        assert c.delay[c.mask].min() >= 3 and c.delay[c.mask].max() <= 12
        assert len(c.delay[c.mask].unique()) > 3
    assert [network.slices[p].stop - network.slices[p].start for p in POPULATIONS] == [
        80,
        40,
        10,
        10,
        40,
        10,
        10,
    ]


def test_structure_outside_the_paper_is_rejected():
    for pre, post in (("EA", "EA"), ("EM", "EM"), ("EM", "EA"), ("IA", "EM")):
        with pytest.raises(ValueError, match=f"{pre}->{post}"):
            Projection(pre, post, 1.0, in_degree=1)


def test_connectivity_seed_decides_the_network(network):
    same = build_network(generator=torch.Generator().manual_seed(0))
    other = build_network(generator=torch.Generator().manual_seed(1))
    for name, c in network.connections.items():
        assert torch.equal(c.mask, same.connections[name].mask)
        assert torch.equal(c.delay, same.connections[name].delay)
    assert not torch.equal(network.connections["ES->EA"].mask, other.connections["ES->EA"].mask)


def test_plastic_weights_per_member(network):
    weights = network.init_weights(3, torch.Generator().manual_seed(5))
    for w, name, nominal in zip(weights, ("ES->EA", "EA->EM"), (10.0, 6.5), strict=True):
        mask = network.connections[name].mask
        assert w.shape == (3, *mask.shape)
        assert (w[:, ~mask] == 0).all()
        assert w[:, mask].min() >= 0.5 * nominal and w[:, mask].max() <= 1.5 * nominal
        assert not torch.equal(w[0], w[1])
    flat = network.flatten(weights)
    assert flat.shape == (3, 1800)
    back = network.unflatten(flat)
    assert all(torch.equal(a, b) for a, b in zip(back, weights, strict=True))


def test_member_of_a_batch_equals_running_it_alone(network):
    weights = network.init_weights(4, torch.Generator().manual_seed(2))
    generator = torch.Generator().manual_seed(3)
    observations = [random_observations(4, 3, generator) for _ in range(6)]
    together = initial_state(network, 4, 3)
    alone = initial_state(network, 1, 3)
    member = 2
    single = type(weights)(*(w[member : member + 1] for w in weights))
    for obs in observations:
        out = run_window(obs, together, network, weights, record=True)
        solo = run_window(obs[member : member + 1], alone, network, single, record=True)
        together, alone = out.state, solo.state
        assert torch.equal(out.spikes[:, member], solo.spikes[:, 0])
        assert torch.equal(out.counts[member], solo.counts[0])
    assert out.counts.shape == (4, 3, 40)
    actions, undecided = spike_count_vote(out.counts, 2)
    assert actions.shape == undecided.shape == (4, 3)


def test_windows_continue_exactly_across_their_boundaries():
    """Two 25-ms windows are one 50-ms window: spikes in flight, cell and input state carry."""
    long = build_network(generator=torch.Generator().manual_seed(4))
    short = build_network(
        CartPoleNetworkConfig(window_ms=25.0), generator=torch.Generator().manual_seed(4)
    )
    weights = long.init_weights(2, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(6)
    state_long, state_short = initial_state(long, 2, 3), initial_state(short, 2, 3)
    for _ in range(4):
        obs = random_observations(2, 3, generator)
        out = run_window(obs, state_long, long, weights, record=True)
        first = run_window(obs, state_short, short, weights, record=True)
        second = run_window(obs, first.state, short, weights, record=True)
        state_long, state_short = out.state, second.state
        assert torch.equal(out.spikes, torch.cat([first.spikes, second.spikes]))
        assert out.spikes.sum() > 0


def test_input_neurons_fire_regularly_and_keep_their_phase(network):
    weights = network.init_weights(1)
    obs = torch.zeros(1, 1, 4)
    state = initial_state(network, 1, 1)
    es = []
    for moved in (0.0, 5.0):  # the second window moves the cart into its last bin
        out = run_window(obs + torch.tensor([moved, 0, 0, 0]), state, network, weights, True)
        state = out.state
        es.append(out.spikes[:, 0, 0, network.slices["ES"]])
    first = es[0].nonzero()
    assert len(first) == 4 * 3  # 4 active neurons at 50 Hz: steps 1, 21, 41
    assert first[:, 0].unique().tolist() == [1, 21, 41]
    cart = es[1][:, :20].nonzero()  # the new bin starts at once ...
    assert cart[:, 0].tolist() == [1, 21, 41] and (cart[:, 1] == 19).all()
    assert es[1][:, 20:].nonzero()[:, 0].unique().tolist() == [11, 31]  # ... the others go on


def test_sensory_cells_relay_their_50_hz_input():
    """The paper's ES cell (INTF7 E, 35-mV AMPA kicks with tau 10 ms) fires once per kick."""
    params = cell_parameters([dataclasses.replace(E_CELL, tau_ampa_ms=10.0)], [1], 1.0)
    state, spikes = None, []
    for t in range(5000):
        ampa = torch.full((1, 1), 35.0 if t % 20 == 0 else 0.0)
        zero = torch.zeros(1, 1)
        x = SynapticDrive(ampa=ampa, nmda=zero, gaba=zero, gaba_slow=zero)
        z, state = step(x, state, params)
        spikes.append(z)
    fired = torch.cat(spikes).flatten().nonzero().flatten()
    assert torch.equal(fired, torch.arange(0, 5000, 20))


def test_untrained_rates_are_in_the_papers_regime(network):
    weights = network.init_weights(2, torch.Generator().manual_seed(1))
    r = rates(network, weights, windows=40, batch=4)
    assert 3.0 < r["EA"] < 10.0  # the paper's target 5.5 Hz
    assert 4.0 < r["EM"] < 16.0  # the paper's target 6 Hz
    for e, i, il in (("EA", "IA", "IAL"), ("EM", "IM", "IML")):
        assert (r[i] + r[il]) / 2 > r[e]  # inhibitory cells fire faster
    # dt = 0.5 ms gives the same regime
    fine = build_network(
        CartPoleNetworkConfig(dt_ms=0.5), generator=torch.Generator().manual_seed(0)
    )
    r_fine = rates(fine, weights, windows=40, batch=4)
    for name in ("EA", "EM", "IA", "IM"):
        assert r_fine[name] == pytest.approx(r[name], rel=0.2), name


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ea": 0}, "ea"),
        ({"im": -3}, "im"),
        ({"em": 41}, "em"),
        ({"input_rate_hz": -1.0}, "input_rate_hz"),
        ({"dt_ms": 60.0}, "dt_ms"),
        ({"dt_ms": 0.0}, "dt_ms"),
        ({"window_ms": 50.5}, "window_ms"),
        ({"weight_spread": 1.5}, "weight_spread"),
        ({"delay_ms": 0.2}, "delay_ms"),
        ({"slow_delay_ms": (12.0, 3.0)}, "slow_delay_ms"),
        ({"projections": (Projection("ES", "EA", 10.0, in_degree=81),)}, "in_degree"),
        ({"ea": 10}, "in_degree"),  # EA->IA needs 15 EA cells
        ({"projections": PAPER_PROJECTIONS[:1] * 2}, "twice"),
    ],
)
def test_impossible_configs_raise(changes, field):
    with pytest.raises(ValueError, match=field):
        CartPoleNetworkConfig(**changes)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"p": 1.5}, "p"), ({"p": -0.1}, "p"), ({"in_degree": -1}, "in_degree"), ({}, "in_degree")],
)
def test_impossible_projections_raise(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Projection("IA", "EA", 18.0, **kwargs)


def test_cell_types_are_validated():
    with pytest.raises(ValueError, match="block_mv"):
        CartPoleNetworkConfig(e_cell=CellType(block_mv=-50.0))
