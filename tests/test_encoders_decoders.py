import math

import pytest
import torch

from neurorl.core.decoders import (
    PopulationDecoder,
    membrane_readout,
    population_to_continuous,
    spike_count_vote,
)
from neurorl.core.encoders import (
    CARTPOLE_RECEPTIVE_FIELDS,
    GaussianPopulationEncoder,
    ReceptiveFieldEncoder,
    gaussian_population,
    poisson_spike_train,
    receptive_field_bins,
    receptive_field_edges,
    regular_spike_train,
    two_neuron,
)

RF = CARTPOLE_RECEPTIVE_FIELDS
MEANS = torch.tensor(RF.means)
STDS = torch.tensor(RF.stds)


def _active_bin(code: torch.Tensor, bins: int) -> torch.Tensor:
    return code.unflatten(-1, (-1, bins)).argmax(-1)


# --- receptive fields ---------------------------------------------------------------------


def test_cartpole_fields_are_the_papers():
    assert RF.bins == 20 and RF.num_neurons == 80
    assert RF.means == (-0.00646, -0.0363, 0.00529, 0.0475)
    assert RF.stds == (1.0, 0.540, 0.0913, 0.821)


def test_receptive_field_bins_are_equal_probability():
    n = 100_000
    g = torch.Generator().manual_seed(0)
    x = MEANS + STDS * torch.randn(n, 4, generator=g)
    freq = RF(x).unflatten(-1, (4, 20)).mean(0)  # [obs, bins]
    assert torch.allclose(freq, torch.full_like(freq, 1 / 20), atol=0.004)
    # a wrong normal (twice the width) is visibly not equal-probability
    wide = RF(MEANS + 2 * STDS * torch.randn(n, 4, generator=g)).unflatten(-1, (4, 20)).mean(0)
    assert (wide - 1 / 20).abs().max() > 0.02


def test_receptive_field_one_active_neuron_per_observation():
    g = torch.Generator().manual_seed(1)
    x = MEANS + 3 * STDS * torch.randn(3, 5, 4, generator=g)  # [population, batch, obs]
    code = RF(x)
    assert code.shape == (3, 5, 80)
    assert set(code.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(code.unflatten(-1, (4, 20)).sum(-1), torch.ones(3, 5, 4))
    assert torch.equal(code, receptive_field_bins(x, RF.means, RF.stds, 20))


def test_receptive_field_monotone_and_extremes_in_end_bins():
    sweep = torch.linspace(-5, 5, 2001)[:, None]
    x = MEANS + STDS * sweep  # every dimension swept over +-5 std
    idx = _active_bin(RF(x), 20)  # [2001, 4]
    assert (idx.diff(dim=0) >= 0).all()
    for d in range(4):
        assert set(idx[:, d].tolist()) == set(range(20))
    extremes = torch.tensor([[-1e6] * 4, [1e6] * 4, [-math.inf] * 4, [math.inf] * 4])
    assert _active_bin(RF(extremes), 20).tolist() == [[0] * 4, [19] * 4, [0] * 4, [19] * 4]


def test_receptive_field_edges_are_normal_quantiles_and_right_closed():
    edges = receptive_field_edges([0.0, 1.0], [1.0, 2.0], 4, dtype=torch.float64)
    levels = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    q = torch.distributions.Normal(0.0, 1.0).icdf(levels)
    assert torch.allclose(edges, torch.stack([q, 1.0 + 2.0 * q]))
    # the mean is an edge for an even bin count: it belongs to the lower bin
    x = torch.tensor([[0.0, 1.0], [1e-6, 1.0 + 1e-6]])
    code = receptive_field_bins(x, [0.0, 1.0], [1.0, 2.0], 4)
    assert _active_bin(code, 4).tolist() == [[1, 1], [2, 2]]


def test_receptive_field_rejects_bad_fields():
    with pytest.raises(ValueError):
        RF(torch.zeros(2, 3))  # 3 observations for 4 fields
    with pytest.raises(ValueError):
        ReceptiveFieldEncoder(means=(0.0, 0.0), stds=(1.0, 0.0))
    with pytest.raises(ValueError):
        ReceptiveFieldEncoder(means=(0.0,), stds=(1.0, 1.0))
    with pytest.raises(ValueError):
        ReceptiveFieldEncoder(means=(0.0,), stds=(1.0,), bins=0)


# --- two-neuron code ----------------------------------------------------------------------


def test_two_neuron_splits_sign_and_is_non_negative():
    x = torch.tensor([[1.5, -2.0, 0.0], [-0.5, 0.25, 3.0]])
    code = two_neuron(x, scale=0.5)
    assert code.shape == (2, 6)
    assert (code >= 0).all()
    pos, neg = code[..., :3], code[..., 3:]
    assert torch.equal(pos - neg, x / 0.5)
    assert torch.equal(pos == 0, x <= 0) and torch.equal(neg == 0, x >= 0)


# --- spike trains -------------------------------------------------------------------------


def test_regular_train_counts_and_period():
    spikes = regular_spike_train(torch.tensor([50.0]), dt_ms=1.0, steps=1000)
    assert spikes.shape == (1000, 1)
    assert spikes.sum() == 50
    assert torch.nonzero(spikes[:, 0]).flatten().tolist() == list(range(0, 1000, 20))
    assert torch.equal(spikes[20:], spikes[:-20])  # periodic, 20 ms period
    # the same 1000 ms at dt 0.5 ms: 50 spikes every 40 steps
    half = regular_spike_train(torch.tensor([50.0]), dt_ms=0.5, steps=2000)
    assert half.sum() == 50
    assert torch.nonzero(half[:, 0]).flatten().tolist() == list(range(0, 2000, 40))


def test_regular_train_batched_rates():
    rates = torch.tensor([[[0.0, 6.0, 50.0, 125.0, 333.0]]]).expand(2, 3, 5)  # [pop, batch, n]
    spikes = regular_spike_train(rates, dt_ms=0.6, steps=500)  # 300 ms
    assert spikes.shape == (500, 2, 3, 5)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    # spikes at k * period in [0, 300) ms: periods 166.7, 20, 8, 3.003 ms
    assert torch.equal(spikes.sum(0), torch.tensor([0.0, 2, 15, 38, 100]).expand(2, 3, 5))
    # saturation: above 1000/dt Hz, every step spikes once
    assert torch.equal(regular_spike_train(torch.tensor([5000.0]), 1.0, 10), torch.ones(10, 1))


def test_regular_train_windows_continue():
    rates = torch.tensor([7.0, 50.0, 90.0])
    whole = regular_spike_train(rates, dt_ms=1.0, steps=300)
    parts = [regular_spike_train(rates, 1.0, 50, start_step=s) for s in range(0, 300, 50)]
    assert torch.equal(torch.cat(parts), whole)


def test_poisson_train_rate_and_reproducibility():
    rates = torch.full((2, 100), 40.0)
    spikes = poisson_spike_train(rates, 1.0, 5000, torch.Generator().manual_seed(3))
    assert spikes.shape == (5000, 2, 100)
    assert set(spikes.unique().tolist()) == {0.0, 1.0}
    assert abs(spikes.mean().item() * 1000 - 40.0) < 1.0  # Hz; std error ~0.2 Hz
    again = poisson_spike_train(rates, 1.0, 5000, torch.Generator().manual_seed(3))
    other = poisson_spike_train(rates, 1.0, 5000, torch.Generator().manual_seed(4))
    assert torch.equal(spikes, again) and not torch.equal(spikes, other)
    edge = poisson_spike_train(torch.tensor([0.0, 2000.0]), 1.0, 100, torch.Generator())
    assert edge[:, 0].sum() == 0 and edge[:, 1].sum() == 100  # p clipped at 1
    with pytest.raises(ValueError):
        poisson_spike_train(rates, 0.0, 10)


# --- Gaussian population ------------------------------------------------------------------


def test_gaussian_population_peaks_at_nearest_centre():
    enc = GaussianPopulationEncoder(n_obs=3)
    assert enc.centres.shape == (3, 10) and enc.widths.shape == (3, 10)
    assert torch.allclose(enc.centres[1], torch.linspace(-3, 3, 10))
    x = torch.tensor([[-2.9, 0.1, 2.2], [0.7, -1.6, 3.4]])
    act = enc(x)
    assert act.shape == (2, 30)
    assert (act >= 0).all() and (act <= 1).all()
    nearest = (x.unsqueeze(-1) - enc.centres).abs().argmin(-1)
    assert torch.equal(act.unflatten(-1, (3, 10)).argmax(-1), nearest)
    at_centre = enc(enc.centres[:, 4].detach().unsqueeze(0)).unflatten(-1, (3, 10))[0, :, 4]
    assert torch.allclose(at_centre, torch.ones(3))


def test_gaussian_population_gradients_and_functional_form():
    enc = GaussianPopulationEncoder(n_obs=2, neurons_per_dim=5, centre_range=(-1.0, 1.0), width=0.5)
    x = torch.tensor([[0.3, -0.8]])
    enc(x).pow(2).sum().backward()
    assert enc.centres.grad is not None and enc.centres.grad.abs().sum() > 0
    assert enc.widths.grad is not None and enc.widths.grad.abs().sum() > 0
    manual = torch.exp(-((x.unsqueeze(-1) - enc.centres) ** 2) / (2 * enc.widths**2)).flatten(-2)
    assert torch.allclose(gaussian_population(x, enc.centres, enc.widths), manual)
    # one set of centres per population member broadcasts against [population, batch, obs]
    centres = torch.stack([torch.zeros(2, 5), torch.ones(2, 5)]).unsqueeze(1)  # [2, 1, 2, 5]
    act = gaussian_population(torch.ones(2, 4, 2), centres, torch.ones(2, 5))
    assert act.shape == (2, 4, 10)
    assert torch.allclose(act[1], torch.ones(4, 10))
    assert torch.allclose(act[0], torch.full((4, 10), math.exp(-0.5)))
    with pytest.raises(ValueError):
        enc(torch.zeros(1, 3))


# --- spike-count vote ---------------------------------------------------------------------


def test_spike_count_vote_majority_and_undecided():
    counts = torch.tensor(
        [
            [3, 1, 0, 0, 2, 1],  # votes 4, 0, 3 -> action 0
            [0, 0, 1, 1, 2, 1],  # 0, 2, 3 -> action 2
            [1, 1, 2, 0, 0, 0],  # 2, 2, 0 -> tie
            [0, 0, 0, 0, 0, 0],  # silence
        ]
    )
    actions, undecided = spike_count_vote(counts, 3, tie="first")
    assert actions.tolist() == [0, 2, 0, 0]
    assert undecided.tolist() == [False, False, True, True]
    tied = torch.tensor([[0, 3, 3], [0, 0, 0]])
    assert spike_count_vote(tied, 3, tie="first")[0].tolist() == [1, 0]  # lowest tied index


def test_spike_count_vote_random_tie_break():
    g = torch.Generator()
    counts = torch.tensor([3, 0, 3, 1]).expand(4000, 4)  # actions 0 and 2 tied, k = 1
    actions, undecided = spike_count_vote(counts, 4, generator=torch.Generator().manual_seed(5))
    assert undecided.all()
    assert set(actions.unique().tolist()) == {0, 2}
    assert abs((actions == 0).float().mean().item() - 0.5) < 0.05
    again, _ = spike_count_vote(counts, 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(actions, again)
    decided, undecided = spike_count_vote(torch.tensor([[0, 5, 1, 0]]), 4, generator=g)
    assert decided.tolist() == [1] and not undecided.any()


def test_rows_that_share_a_generator_break_ties_as_that_generator_alone():
    counts = torch.tensor([3, 0, 3, 1]).expand(30, 4)  # every row tied
    alone = [
        spike_count_vote(counts[:n], 4, generator=torch.Generator().manual_seed(s))[0]
        for n, s in ((12, 1), (18, 2))
    ]
    first, second = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    together, _ = spike_count_vote(counts, 4, generator=[first] * 12 + [second] * 18)
    assert torch.equal(together, torch.cat(alone))
    assert not torch.equal(alone[0], alone[1][:12])  # two streams, not one


def test_spike_count_vote_rejects_bad_arguments():
    with pytest.raises(ValueError):
        spike_count_vote(torch.zeros(2, 5), 2)
    with pytest.raises(ValueError):
        spike_count_vote(torch.zeros(2, 4), 2, tie="last")  # type: ignore[arg-type]


# --- membrane readout and population decoder -----------------------------------------------


def test_membrane_readout_modes():
    v = torch.arange(24.0).reshape(3, 2, 4)  # [T, batch, n]
    assert torch.equal(membrane_readout(v), v[2])
    assert torch.equal(membrane_readout(v, "last"), v[2])
    assert torch.equal(membrane_readout(v, "mean"), v[1])  # linear in t: mean = middle step
    with pytest.raises(ValueError):
        membrane_readout(v, "max")  # type: ignore[arg-type]


def test_population_decoder_is_bounded_and_differentiable():
    bound = torch.tensor([2.0, 0.5])
    g = torch.Generator().manual_seed(0)
    dec = PopulationDecoder(act_dim=2, neurons_per_action=10, action_bound=bound, generator=g)
    assert dec.weight.shape == (2, 10) and dec.bias.shape == (2,)
    assert dec.weight.abs().max() <= 1 / math.sqrt(10) and dec.bias.abs().max() <= 1 / math.sqrt(10)
    same = PopulationDecoder(2, 10, bound, generator=torch.Generator().manual_seed(0))
    assert torch.equal(dec.weight, same.weight) and torch.equal(dec.bias, same.bias)
    rates = 100 * torch.randn(3, 5, 20, generator=torch.Generator().manual_seed(1))
    rates.requires_grad_()
    actions = dec(rates)
    assert actions.shape == (3, 5, 2)
    assert (actions.abs() <= bound).all()
    assert (actions.abs().amax((0, 1)) > 0.9 * bound).all()  # large drives reach the bound
    dec(rates / 1000).sum().backward()
    assert dec.weight.grad.abs().sum() > 0 and dec.bias.grad.abs().sum() > 0
    assert rates.grad is not None and rates.grad.abs().sum() > 0


def test_population_to_continuous_matches_weighted_sum():
    rates = torch.tensor([[0.2, 0.4, 0.0, 1.0, 0.6, 0.8]])  # 2 actions x 3 neurons
    weights = torch.tensor([[1.0, -1.0, 2.0], [0.5, 0.5, -0.5]])
    bias = torch.tensor([0.1, -0.2])
    out = population_to_continuous(rates, weights, bias, action_bound=3.0)
    expected = 3.0 * torch.tanh(torch.tensor([[0.2 - 0.4 + 0.1, 0.5 + 0.3 - 0.4 - 0.2]]))
    assert torch.allclose(out, expected)
    with pytest.raises(ValueError):
        population_to_continuous(torch.zeros(1, 5), weights, bias)
