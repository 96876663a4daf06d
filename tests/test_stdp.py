import math

import pytest
import torch

from neurorl.learn.homeostasis import (
    balance_reward,
    gain_control,
    mean_incoming,
    mean_outgoing,
    normalize_incoming,
)
from neurorl.learn.stdp import (
    STDPConfig,
    apply_reward,
    compiled_update_eligibility,
    eligibility,
    reset_eligibility,
    stdp_init,
    update_eligibility,
)

TAGS = STDPConfig(hebb_rate=0.02, anti_rate=-0.03)
TRACE = STDPConfig(
    eligibility="trace",
    a_plus=0.3,
    a_minus=0.4,
    tau_plus_ms=15.0,
    tau_minus_ms=25.0,
    tau_c_ms=200.0,
)


def _spikes(steps: int, n: int, times: dict[int, list[int]]) -> torch.Tensor:
    """[T, 1, 1, n] record with neuron i spiking at the sub-steps times[i]."""
    z = torch.zeros(steps, 1, 1, n)
    for i, ks in times.items():
        z[ks, 0, 0, i] = 1.0
    return z


def _window(config, pre, post, dt=1.0, state=None):
    _, population, batch, n_pre = pre.shape
    if state is None:
        state = stdp_init(config, population, batch, n_pre, post.shape[-1])
    return update_eligibility(pre, post, state, config, dt)


@pytest.mark.parametrize("reward", [1.0, -1.0])
def test_causal_pair_changes_exactly_that_synapse_by_hebb_rate(reward):
    # pre 0 -> post 0 and post 2 after 3 ms; (0, 2) is masked out; pre 3 fires 7 ms before the
    # posts and pre 2 fires 7 ms after them (outside the 5 ms windows); pre 1 and post 1 are silent.
    pre = _spikes(20, 4, {0: [5], 2: [15], 3: [1]})
    post = _spikes(20, 3, {0: [8], 2: [8]})
    mask = torch.ones(4, 3, dtype=torch.bool)
    mask[0, 2] = False
    state = _window(TAGS, pre, post)
    assert eligibility(state, TAGS)[0, 0, 0, 2] == TAGS.hebb_rate  # would learn if unmasked
    weights = torch.full((1, 4, 3), 5.0)
    new = apply_reward(weights, mask, state, reward, TAGS)
    expected = torch.zeros(1, 4, 3)
    expected[0, 0, 0] = reward * TAGS.hebb_rate
    torch.testing.assert_close(new - weights, expected, rtol=0, atol=1e-6)


def test_post_before_pre_gives_the_anti_hebbian_change():
    # (0, 0): post then pre 3 ms later; (1, 1): pre, post 3 ms later, pre again 3 ms later:
    # the anti-Hebbian tag does not replace the Hebbian one, the reward acts on both.
    pre = _spikes(20, 2, {0: [8], 1: [5, 11]})
    post = _spikes(20, 2, {0: [5], 1: [8]})
    weights = torch.full((1, 2, 2), 5.0)
    new = apply_reward(weights, torch.ones(2, 2), _window(TAGS, pre, post), 1.0, TAGS)
    expected = torch.zeros(1, 2, 2)
    expected[0, 0, 0] = TAGS.anti_rate
    expected[0, 1, 1] = TAGS.hebb_rate + TAGS.anti_rate
    torch.testing.assert_close(new - weights, expected, rtol=0, atol=1e-6)


def test_intervals_of_at_most_one_ms_never_tag():
    # stdp.mod only tags intervals > 1 ms; dt 0.5 ms: 2 steps = 1.0 ms, 3 steps = 1.5 ms
    pre = _spikes(20, 2, {0: [4], 1: [4]})
    post = _spikes(20, 2, {0: [6], 1: [7]})
    elig = eligibility(_window(TAGS, pre, post, dt=0.5), TAGS)[0, 0]
    assert elig[0, 0] == 0 and elig[1, 1] == TAGS.hebb_rate


def test_tags_survive_rewards_until_their_lifetime_ends():
    config = STDPConfig(hebb_lifetime_ms=250.0)
    pre, post = _spikes(50, 1, {0: [45]}), _spikes(50, 1, {0: [49]})  # tag at the window end
    silence = torch.zeros(50, 1, 1, 1)
    mask = torch.ones(1, 1)
    state = _window(config, pre, post)
    w0 = torch.full((1, 1, 1), 5.0)
    w1 = apply_reward(w0, mask, state, 1.0, config)
    for _ in range(5):  # 250 ms later: still eligible, the earlier reward did not consume it
        state = _window(config, silence, silence, state=state)
    w2 = apply_reward(w1, mask, state, 1.0, config)
    state = _window(config, silence, silence, state=state)  # 300 ms: expired
    w3 = apply_reward(w2, mask, state, 1.0, config)
    assert (w1 - w0).item() == pytest.approx(config.hebb_rate, abs=1e-6)
    assert (w2 - w1).item() == pytest.approx(config.hebb_rate, abs=1e-6)
    assert torch.equal(w3, w2)


def test_reset_clears_only_finished_environments():
    pre = torch.zeros(20, 1, 2, 1)
    post = torch.zeros(20, 1, 2, 1)
    pre[5], post[8] = 1.0, 1.0
    for config in (TAGS, TRACE):
        state = _window(config, pre, post)
        state = reset_eligibility(state, torch.tensor([[True, False]]))
        elig = eligibility(state, config)
        assert elig[0, 0].abs().sum() == 0 and elig[0, 1].abs().sum() > 0
        # remembered spikes are gone too: a post right after the reset pairs with nothing
        late = _window(config, torch.zeros(3, 1, 2, 1), torch.ones(3, 1, 2, 1), state=state)
        assert eligibility(late, config)[0, 0].abs().sum() == 0


def _random_spikes(generator, steps, population, batch, n, p):
    return (torch.rand(steps, population, batch, n, generator=generator) < p).float()


@pytest.mark.parametrize("config", [TAGS, TRACE, STDPConfig(soft_bound=True, w_max=8.0)])
def test_weights_stay_within_bounds_under_huge_rewards(config):
    g = torch.Generator().manual_seed(0)
    pre, post = _random_spikes(g, 60, 2, 3, 6, 0.2), _random_spikes(g, 60, 2, 3, 5, 0.2)
    state = _window(config, pre, post)
    weights = config.w_min + (min(config.w_max, 20.0) - config.w_min) * torch.rand(2, 6, 5)
    for reward in (1e6, -1e6):
        new = apply_reward(weights, torch.ones(6, 5), state, reward, config)
        assert new.min() >= config.w_min and new.max() <= config.w_max
        assert (new == config.w_max).any() or (new == config.w_min).any()


def test_trace_eligibility_of_one_pair_has_the_closed_form():
    dt, steps = 0.5, 80
    pre = _spikes(steps, 2, {0: [10], 1: [30]})
    post = _spikes(steps, 2, {0: [30], 1: [10]})
    state = _window(TRACE, pre, post, dt=dt)
    since_post, since_pre = (steps - 1 - 30) * dt, (steps - 1 - 30) * dt
    hebb = TRACE.a_plus * math.exp(-10 / TRACE.tau_plus_ms) * math.exp(-since_post / TRACE.tau_c_ms)
    anti = -TRACE.a_minus * math.exp(-10 / TRACE.tau_minus_ms) * math.exp(-since_pre / 200.0)
    elig = eligibility(state, TRACE)[0, 0]
    assert elig[0, 0].item() == pytest.approx(hebb, rel=1e-5)
    assert elig[1, 1].item() == pytest.approx(anti, rel=1e-5)
    assert elig[0, 1] == 0 and elig[1, 0] == 0
    silence = torch.zeros(steps, 1, 1, 2)
    later = eligibility(_window(TRACE, silence, silence, dt=dt, state=state), TRACE)[0, 0, 0, 0]
    assert later.item() == pytest.approx(hebb * math.exp(-steps * dt / 200.0), rel=1e-5)
    weights = torch.full((1, 2, 2), 5.0)
    new = apply_reward(weights, torch.ones(2, 2), state, -2.0, TRACE)
    torch.testing.assert_close(new - weights, -2.0 * elig.unsqueeze(0), rtol=0, atol=1e-6)


@pytest.mark.parametrize("config", [TAGS, TRACE])
def test_members_are_independent(config):
    g = torch.Generator().manual_seed(1)
    population, batch, n_pre, n_post = 3, 2, 5, 4
    windows = [
        (
            _random_spikes(g, 30, population, batch, n_pre, 0.15),
            _random_spikes(g, 30, 3, 2, 4, 0.15),
        )
        for _ in range(2)
    ]
    weights = 5.0 + torch.rand(population, n_pre, n_post, generator=g)
    reward = torch.randn(population, batch, n_post, generator=g)
    mask = torch.rand(n_pre, n_post, generator=g) < 0.7

    def run(members):
        state, w = stdp_init(config, len(members), batch, n_pre, n_post), weights[members]
        for pre, post in windows:
            state = update_eligibility(pre[:, members], post[:, members], state, config, 0.6)
            w = apply_reward(w, mask, state, reward[members], config)
        return w

    together = run([0, 1, 2])
    assert not torch.equal(together, weights)
    for i in range(population):
        torch.testing.assert_close(together[i : i + 1], run([i]), rtol=0, atol=1e-6)


@pytest.mark.parametrize("batch_reduce", ["sum", "mean"])
def test_targeted_reward_applies_plus_r_and_minus_point_nine_r_per_half(batch_reduce):
    config = STDPConfig(hebb_rate=0.01, batch_reduce=batch_reduce)
    n_pre, n_post = 3, 4
    pre, post = torch.zeros(10, 1, 2, n_pre), torch.zeros(10, 1, 2, n_post)
    pre[2], post[5] = 1.0, 1.0  # every synapse Hebbian-tagged in both environments
    state = _window(config, pre, post)
    r = torch.tensor([0.5, 0.8])  # env 0 chose LEFT (posts 0-1), env 1 RIGHT (posts 2-3)
    left = torch.tensor([1.0, 1.0, -0.9, -0.9])
    reward = torch.stack([r[0] * left, r[1] * left.flip(0)]).unsqueeze(0)
    weights = torch.full((1, n_pre, n_post), 5.0)
    dw = apply_reward(weights, torch.ones(n_pre, n_post), state, reward, config) - weights
    per_post = config.hebb_rate * (r[0] * left + r[1] * left.flip(0))
    if batch_reduce == "mean":
        per_post = per_post / 2
    torch.testing.assert_close(dw, per_post.expand(1, n_pre, n_post), rtol=0, atol=1e-6)


def test_pre_scale_multiplies_each_presynaptic_row():
    pre, post = _spikes(10, 3, {0: [2], 1: [2], 2: [2]}), _spikes(10, 2, {0: [5], 1: [5]})
    state = _window(TAGS, pre, post)
    weights = torch.full((1, 3, 2), 5.0)
    scale = torch.tensor([[[0.1, 1.0, 2.0]]])
    dw = apply_reward(weights, torch.ones(3, 2), state, 1.0, TAGS, pre_scale=scale) - weights
    torch.testing.assert_close(dw[0, :, 1], TAGS.hebb_rate * scale[0, 0], rtol=0, atol=1e-6)


def _reference_ages(pre, post, dt, config, windows):
    """stdp.mod's event logic, one synapse at a time: (hebb, anti) tag ages after each window."""
    steps = pre.shape[0] // windows
    _, population, batch, n_pre = pre.shape
    n_post = post.shape[-1]
    out = torch.full((windows, 2, population, batch, n_pre, n_post), math.inf, dtype=torch.float64)
    for p in range(population):
        for b in range(batch):
            for i in range(n_pre):
                for j in range(n_post):
                    t_pre = t_post = -math.inf
                    t_hebb = t_anti = None
                    for k in range(pre.shape[0]):
                        t = (k + 1) * dt
                        low = config.min_interval_ms
                        if post[k, p, b, j] and low < t - t_pre <= config.hebb_window_ms:
                            t_hebb = t
                        if pre[k, p, b, i] and low < t - t_post <= config.anti_window_ms:
                            t_anti = t
                        t_pre = t if pre[k, p, b, i] else t_pre
                        t_post = t if post[k, p, b, j] else t_post
                        if (k + 1) % steps == 0:
                            for kind, tag in enumerate((t_hebb, t_anti)):
                                if tag is not None:
                                    out[k // steps, kind, p, b, i, j] = t - tag
    return out


def test_tags_match_the_event_driven_original_across_windows():
    # 3 windows of 30 sub-steps (crossing the 24-step chunks of the fast path); tags and the
    # last spikes carry over from one window to the next.
    config = STDPConfig(hebb_window_ms=3.0, anti_window_ms=4.0)
    g = torch.Generator().manual_seed(2)
    dt, steps, windows = 0.5, 30, 3
    pre = _random_spikes(g, steps * windows, 2, 2, 4, 0.12)
    post = _random_spikes(g, steps * windows, 2, 2, 3, 0.12)
    expected = _reference_ages(pre, post, dt, config, windows)
    state = stdp_init(config, 2, 2, 4, 3)
    for w in range(windows):
        chunk = slice(w * steps, (w + 1) * steps)
        state = update_eligibility(pre[chunk], post[chunk], state, config, dt)
        for kind, got in enumerate((state.hebb_age, state.anti_age)):
            torch.testing.assert_close(got.double(), expected[w, kind], rtol=0, atol=1e-4)
    assert expected.isfinite().float().mean() > 0.3  # the comparison is not vacuous


@pytest.mark.parametrize("config", [TAGS, TRACE])
def test_compiled_update_equals_the_eager_one(config):
    """The STDP-RL loop's compiled update gives the eager update's state, window after window
    (the ages are exact in ms; the traces to float rounding)."""
    g = torch.Generator().manual_seed(3)
    compiled = eager = stdp_init(config, 1, 1, 5, 4)
    for _ in range(3):
        pre, post = _random_spikes(g, 30, 1, 1, 5, 0.2), _random_spikes(g, 30, 1, 1, 4, 0.2)
        eager = update_eligibility(pre, post, eager, config, 1.0)
        compiled = compiled_update_eligibility()(pre, post, compiled, config, 1.0)
        for ours, theirs in zip(compiled, eager, strict=True):
            torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    assert eligibility(eager, config).abs().sum() > 0  # the comparison is not vacuous


def test_bad_config_and_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"stdp\.hebb_lifetime_ms"):
        STDPConfig(hebb_lifetime_ms=-1)
    with pytest.raises(ValueError, match=r"stdp\.anti_rate"):
        STDPConfig(anti_rate=0.01)
    state = stdp_init(TAGS, 1, 1, 3, 2)
    with pytest.raises(ValueError, match="spikes must be"):
        update_eligibility(torch.zeros(5, 1, 1, 2), torch.zeros(5, 1, 1, 2), state, TAGS, 1.0)


def test_normalize_incoming_hits_the_target_mean():
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(6, 4, generator=g) < 0.6
    mask[:, 3] = False  # a cell without plastic inputs
    mask[0, :3] = True
    weights = torch.rand(2, 6, 4, generator=g) * 10
    target = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    new = normalize_incoming(weights, mask, target)
    torch.testing.assert_close(mean_incoming(new, mask)[:, :3], target[:, :3])
    assert torch.equal(new[:, ~mask], weights[:, ~mask])


def test_balance_reward_as_coded_and_as_commented():
    mask = torch.ones(4, 2, dtype=torch.bool)
    initial = torch.full((1, 4, 2), 4.0)
    grown = torch.tensor([2.0, 0.5, 10.0, 0.01]).reshape(1, 4, 1)  # outgoing weights x this
    m0 = mean_outgoing(initial, mask)
    reward = torch.tensor([[1.0, -1.0]])  # env 0 rewarded, env 1 punished
    coded = balance_reward(initial * grown, mask, m0, reward)
    torch.testing.assert_close(coded[0, 0], torch.tensor([2.0, 0.5, 2.0, 0.1]))
    torch.testing.assert_close(coded[0, 1], torch.tensor([0.5, 2.0, 0.1, 2.0]))
    commented = balance_reward(initial * grown, mask, m0, reward, homeostatic=True)
    torch.testing.assert_close(commented, coded.flip(1))


def test_gain_control_moves_towards_the_target_rate():
    gain = torch.tensor([1.0, 1.0, 2.0])
    rate = torch.tensor([5.0, 6.2, 5.995])  # below, above, within 0.01 Hz of the target 6 Hz
    new = gain_control(gain, rate, 6.0, rate_of_change=1e-4)
    torch.testing.assert_close(new, torch.tensor([1.0001, 0.9999, 2.0]))
