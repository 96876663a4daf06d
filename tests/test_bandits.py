"""Non-stationary bandits (Lee et al. 2024): the envs, the agents against hand-computed traces,
the neuromodulators, and the ``bandit-neuromod`` study through the CLI."""

import json
import warnings
from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from test_bad_input import assert_clean_error

import neurorl.envs.nonstationary  # noqa: F401  (registers neurorl/NonStationaryCartPole-v0)
from neurorl import neuromod
from neurorl.envs.bandits import SETTINGS, BanditSetting, VectorBandit, draw_instance
from neurorl.experiments.bandits import (
    BanditStudyConfig,
    BanditStudyTrainer,
    TuningConfig,
    play,
    readaptation,
)
from neurorl.learn import bandit_agents as agents
from neurorl.learn.spiking_bandit import SpikingBanditAgent


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --- environments ----------------------------------------------------------------------------


def checker_warnings(env: gym.Env) -> set[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    return {str(w.message) for w in caught}


def test_bandit_env_passes_gymnasium_checks():
    assert checker_warnings(gym.make("neurorl/NonStationaryBandit-v0").unwrapped) == set()


def test_nonstationary_cartpole_passes_gymnasium_checks():
    # nothing beyond what CartPole-v1 itself and any wrapper draw
    own = checker_warnings(gym.make("CartPole-v1").unwrapped)
    extra = checker_warnings(gym.make("neurorl/NonStationaryCartPole-v0")) - own
    assert [w for w in extra if "unwrapped version" not in w] == []


def test_bandit_env_pays_gaussian_rewards_and_reports_regret():
    env = gym.make("neurorl/NonStationaryBandit-v0", blocks=2, block_length=3)
    observation, _ = env.reset(seed=5)
    assert observation.tolist() == [-1.0, 0.0]
    means, _ = draw_instance(env.unwrapped.setting, 5)
    for t in range(6):
        observation, reward, terminated, truncated, info = env.step(1)
        assert info["regret"] == pytest.approx(means[t // 3].max() - means[t // 3][1])
        assert observation[0] == 1 and observation[1] == pytest.approx(reward)
        assert truncated == (t == 5) and not terminated


def test_instances_switch_as_whole_bandits_with_the_given_probability():
    setting = BanditSetting(blocks=200, block_length=1)
    means, sds = draw_instance(setting, 3)
    assert (means >= -5).all() and (means <= 5).all() and (sds >= 0.001).all() and (sds <= 2).all()
    changed = (means[1:] != means[:-1]).any(-1)
    assert ((means[1:] != means[:-1]).all(-1) == changed).all()  # all arms or none
    assert 0.3 < changed.mean() < 0.5
    assert (draw_instance(setting, 3)[0] == means).all()


def test_vector_bandit_seeds_are_independent_of_the_batch():
    setting = SETTINGS["main"]
    alone = VectorBandit(setting, np.array([7]))
    batch = VectorBandit(setting, np.array([3, 7, 9]))
    assert (alone.means[0] == batch.means[1]).all()
    rewards, regrets = batch.step(batch.means[:, 0].argmax(-1))
    assert (regrets == 0).all() and rewards.shape == (3,)


def test_nonstationary_cartpole_switches_pole_length_between_blocks():
    env = gym.make("neurorl/NonStationaryCartPole-v0", values=(0.5, 2.0), episodes_per_block=2)
    lengths = []
    for episode in range(5):
        _, info = env.reset(seed=episode)
        lengths.append(env.unwrapped.length)
        assert info["parameter_value"] == lengths[-1]
    assert lengths == [0.5, 0.5, 2.0, 2.0, 0.5]
    gravity = gym.make("neurorl/NonStationaryCartPole-v0", parameter="gravity", values=(9.8, 20.0))
    gravity.reset(seed=0)
    assert gravity.unwrapped.gravity == 9.8


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"block_length": 0}, "bandit.block_length must be >= 1"),
        ({"arms": 1}, "bandit.arms must be >= 2"),
        ({"sd_low": -0.1}, "bandit.sd_low must be >= 0"),
        ({"switch_probability": 1.5}, "bandit.switch_probability must be in [0, 1]"),
    ],
)
def test_bandit_setting_refuses_bad_values(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        BanditSetting(**overrides)


# --- neuromodulators ---------------------------------------------------------------------------


def test_neuromodulators_on_known_values():
    assert neuromod.acetylcholine(np.array(3.0), np.array(1.0)) == pytest.approx(0.75)
    assert neuromod.dopamine(np.array(2.0), np.array(0.5)) == pytest.approx(1.5)
    assert neuromod.inverse_temperature(neuromod.noradrenaline(np.array(0.25))) == pytest.approx(4)
    assert neuromod.ensemble_variance(np.array([[1.0, 3.0]])) == pytest.approx(1.0)
    moments = neuromod.Moments(np.zeros(2), np.zeros(2))
    for x in (1.0, 3.0):
        moments = neuromod.moments_step(moments, np.array([x, x]), np.array([0.5, 0.0]))
    assert neuromod.moments_variance(moments).tolist() == pytest.approx([4.75 - 1.75**2, 0])
    probabilities = neuromod.softmax(np.array([[0.0, np.log(3.0)]]))
    assert probabilities[0].tolist() == pytest.approx([0.25, 0.75])


def test_cusum_alarms_after_a_sustained_shift_only():
    state = neuromod.CusumState(np.zeros(1), np.zeros(1))
    active = np.ones(1, dtype=bool)
    alarms = []
    for z in (0.4, -0.4, 0.4, 2.0, 2.0, 2.0):
        alarm, state = neuromod.cusum_step(state, np.array([z]), 0.5, 4.0, active)
        alarms.append(bool(alarm[0]))
    # g+ = 0, 0, 0, 1.5, 3.0, 4.5 > 4: the alarm, and the sums restart
    assert alarms == [False] * 5 + [True] and state.upper[0] == 0


# --- agents: hand-computed traces ------------------------------------------------------------


def test_boltzmann_trace():
    agent = agents.Boltzmann(1, 2, rng(), temperature=0.5, learning_rate=0.5)
    agent.update(np.array([0]), np.array([1.0]))
    agent.update(np.array([0]), np.array([-1.0]))
    assert agent.values.tolist() == [[-0.25, 0.0]]  # 0.5, then 0.5 + 0.5 (-1 - 0.5)
    draws = np.array([agent.act()[0] for _ in range(2000)])
    assert (draws == 1).mean() == pytest.approx(1 / (1 + np.exp(-0.5)), abs=0.03)


def test_textbook_discounted_ucb_discounts_every_arm():
    agent = agents.DiscountedUCB(1, 2, rng(), gamma=0.5, bonus=1.0)
    assert agent.act()[0] == 0  # unseen arms first
    agent.update(np.array([0]), np.array([2.0]))
    assert agent.act()[0] == 1
    agent.update(np.array([1]), np.array([1.0]))
    assert agent.counts.tolist() == [[0.5, 1.0]] and agent.sums.tolist() == [[1.0, 1.0]]
    # index: 1 / 0.5 + sqrt(log 1.5 / 0.5) = 2.90 against 1 + sqrt(log 1.5) = 1.64
    assert agent.act()[0] == 0


def test_code_discounted_ucb_discounts_only_the_pulled_arm():
    agent = agents.DiscountedUCB(1, 2, rng(), gamma=0.5, bonus=1.0, variant="code")
    agent.update(np.array([0]), np.array([2.0]))
    agent.update(np.array([1]), np.array([1.0]))
    assert agent.counts.tolist() == [[1.0, 1.0]] and agent.total[0, 0] == 1.5
    assert agent.values.tolist() == [[0.2, 0.1]]  # lr 0.1


def test_sliding_window_ucb_forgets_what_left_the_window():
    agent = agents.SlidingWindowUCB(1, 2, rng(), window=2)
    for arm, reward in [(0, 1.0), (1, 2.0), (0, 3.0)]:
        agent.update(np.array([arm]), np.array([reward]))
    assert agent.counts.tolist() == [[1.0, 1.0]] and agent.sums.tolist() == [[3.0, 2.0]]


def test_discounted_thompson_discounts_and_samples_the_posterior():
    agent = agents.DiscountedThompson(1, 2, rng(), gamma=0.5, noise_sd=1.0, prior_sd=1e6)
    for _ in range(30):
        agent.update(np.array([1]), np.array([4.0]))
        agent.update(np.array([0]), np.array([-4.0]))
    # the last pull was arm 0: sums of 0.25^k and of 0.5 * 0.25^k
    assert agent.counts[0].tolist() == pytest.approx([4 / 3, 2 / 3])
    assert agent.sums[0, 1] / agent.counts[0, 1] == pytest.approx(4.0)
    assert (np.array([agent.act()[0] for _ in range(200)]) == 1).all()


def test_monitored_ucb_resets_on_a_change_between_window_halves():
    agent = agents.MonitoredUCB(2, 2, rng(), window=4, threshold=3.0, exploration=0.0)
    for rewards in ([0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [5.0, 1.0]):
        agent.update(np.array([0, 0]), np.array(rewards))
    # halves 0 + 0 against 5 + 5 (alarm) and 0 + 0 against 0 + 1 (none)
    assert agent.alarms.tolist() == [1, 0]
    assert agent.filled[:, 0].tolist() == [0, 4] and agent.since_alarm.tolist() == [0, 4]


def test_neuromodulated_agent_learns_as_a_kalman_filter():
    agent = agents.NeuromodulatedAgent(1, 2, rng(), volatility=0.0, prior_variance=1.0)
    agent.update(np.array([0]), np.array([1.0]))
    assert agent.means[0, 0] == pytest.approx(1.0) and agent.uncertainty[0, 0] == pytest.approx(1)
    agent.update(np.array([0]), np.array([3.0]))
    # A = (1 * 0 + 1) / 2 = 0.5, E = 1: alpha = 2/3; m = 1 + 2/3 * 2; E = 2/3 * 0.5
    assert agent.means[0, 0] == pytest.approx(1 + 4 / 3)
    assert agent.uncertainty[0, 0] == pytest.approx(1 / 3)
    assert agent.variances[0, 0] == pytest.approx(1.0)  # the variance of {1, 3}
    assert agent.signals()["learning_rate"][0] == pytest.approx(2 / 3)


def test_neuromodulated_agent_resets_after_a_jump():
    agent = agents.NeuromodulatedAgent(1, 2, rng(), threshold=8.0, volatility=0.0)
    noise = rng().normal(0, 0.1, 60)
    for t in range(60):
        agent.update(np.array([0]), np.array([noise[t] + (0.0 if t < 40 else 5.0)]))
        if t == 39:
            assert agent.alarms[0] == 0
    assert agent.alarms[0] >= 1 and agent.pulls[0, 0] < 20


def test_doya_dayu_keeps_its_ensemble_summaries_and_its_learning_rate():
    agent = agents.DoyaDaYu(3, 4, rng(), members=5)
    for _ in range(50):
        actions = agent.act()
        agent.update(actions, rng().normal(size=3))
    assert agent.spread == pytest.approx(np.var(agent.moments.mean, axis=-1))
    assert agent.values == pytest.approx(agent.moments.mean.mean(-1))
    agent.act()
    expected = agent.spread / (agent.spread + agent.variance)
    assert agent.signals()["learning_rate"] == pytest.approx(expected.mean(-1), abs=1e-9)
    code = agents.DoyaDaYu(3, 4, rng(), members=5, rules=agents.CODE)
    code.act()
    assert np.ptp(code._alpha, axis=-1) == pytest.approx(0)  # one scalar rate for all arms
    with pytest.raises(ValueError, match="truth"):
        agents.DoyaDaYu(1, 2, rng(), rules=agents.DoyaDaYuRules(aleatoric="oracle_variance"))
    with pytest.raises(ValueError, match=">= 2 members"):
        agents.DoyaDaYu(1, 2, rng(), members=1)


def test_agents_accept_one_hyper_parameter_per_seed():
    agent = agents.Boltzmann(2, 2, rng(), temperature=np.array([1e-3, 1e3]), learning_rate=1.0)
    agent.update(np.array([1, 1]), np.array([1.0, 1.0]))
    draws = np.array([agent.act() for _ in range(400)])
    assert (draws[:, 0] == 1).all() and 0.3 < (draws[:, 1] == 1).mean() < 0.7


# --- the study through the CLI -----------------------------------------------------------------

SMALL_STUDY = [
    "--set", "tuning.seeds=2",
    "--set", "eval.episodes=6",
    "--set", "bandit.blocks=3",
    "--set", "bandit.block_length=200",
    "--set", "agents=[adaptive, adaptive-code, boltzmann, ducb, neuromod]",
    "--set", "window=20",
]  # fmt: skip


def test_study_writes_a_run_folder_and_beats_random(cli, tmp_path):
    code, _, err = cli("train", "bandit-neuromod", "--quiet", "--out", tmp_path, *SMALL_STUDY)
    assert code == 0, err
    run = next((tmp_path / "bandit-neuromod").iterdir())
    results = json.loads((run / "results.json").read_text())["eval"]
    assert results["test_seeds"] == [42, 47] and results["tuning_seeds"] == [100000, 100001]
    assert set(results["tukey"]) == {"adaptive", "adaptive-code", "neuromod"}
    assert 0 <= results["anova_p"] <= 1
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 3  # 3 tuned agents
    for name in ("cumulative_regret.png", "switch_regret.png", "switch_signals.png", "study.md"):
        assert (run / "plots" / name).stat().st_size > 0
    # uniform random choice: regret = best mean - mean of the arms, on the same instances
    setting = BanditSetting(blocks=3, block_length=200)
    bandit = VectorBandit(setting, np.arange(42, 48))
    random_regret = (bandit.best - bandit.means.mean(-1)).sum(-1).mean() * 200
    assert results["regret_neuromod"] < 0.3 * random_regret
    assert -results["mean_return"] == pytest.approx(results["regret_neuromod"])


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("bandit.block_length=0", "bandit.block_length must be >= 1, got 0"),
        ("bandit.arms=1", "bandit.arms must be >= 2, got 1"),
        ("bandit.sd_low=-1", "bandit.sd_low must be >= 0, got -1"),
        ("bandit.switch_probability=1.2", "bandit.switch_probability must be in [0, 1], got 1.2"),
        ("bandit.switch_probability=-0.1", "must be in [0, 1], got -0.1"),
        ("adaptive.members=1", "adaptive.members must be >= 2, got 1"),
        ("tuning.first_seed=50", "must be disjoint"),
        ("agents=[boltzmann, nosuch]", "got 'nosuch'"),
    ],
)
def test_study_refuses_bad_input(cli, tmp_path, override, fragment):
    code, _, err = cli("train", "bandit-neuromod", "--quiet", "--out", tmp_path, "--set", override)
    assert_clean_error(code, err, fragment)
    assert not (tmp_path / "bandit-neuromod").exists()


def test_headline_agent_plays_the_gymnasium_env_through_predict():
    setting = BanditSetting(blocks=2, block_length=300)
    config = BanditStudyConfig(
        bandit=setting, agents=("adaptive", "adaptive-code", "neuromod"), tuning=TuningConfig(1)
    )
    trainer = BanditStudyTrainer(config)
    policy = trainer.agent(trainer.params(), seed=0)
    env = gym.make("neurorl/NonStationaryBandit-v0", blocks=2, block_length=300)
    observation, _ = env.reset(seed=3)
    state, regret, random_regret, truncated = None, 0.0, 0.0, False
    while not truncated:
        action, state = policy.predict(observation, state)
        observation, _, _, truncated, info = env.step(action)
        regret += info["regret"]
        random_regret += info["means"].max() - info["means"].mean()
    assert regret < 0.3 * random_regret


def test_spiking_agent_plasticity_and_noise_follow_the_neuromodulators():
    fixed = SpikingBanditAgent(1, 3, rng(), modulated=False, learning_rate=0.5, temperature=0.3)
    fixed.update(np.array([1]), np.array([2.0]))
    assert fixed.weights.tolist() == [[0.0, 1.0, 0.0]]
    assert fixed.temperature().tolist() == [[0.3] * 3]
    modulated = SpikingBanditAgent(1, 3, rng(), temperature=0.1, noise_gain=2.0, prior_variance=4.0)
    assert modulated.temperature()[0].tolist() == pytest.approx([0.1 + 2.0 * 2.0] * 3)
    modulated.update(np.array([1]), np.array([2.0]))
    assert modulated.weights[0, 1] == pytest.approx(2.0)  # ACh: E >> A, the first reward whole
    assert modulated.temperature()[0, 1] < modulated.temperature()[0, 0]  # NA: known arm calmer


def test_spiking_agents_learn_the_bandit():
    setting = BanditSetting(blocks=3, block_length=200)
    bandit = VectorBandit(setting, np.arange(8))
    random_regret = (bandit.best - bandit.means.mean(-1)).sum(-1).mean() * 200
    for modulated in (True, False):
        agent = partial(SpikingBanditAgent, 8, 5, rng(), modulated=modulated)
        traces = play(lambda b, agent=agent: agent(), bandit, 20)
        assert traces.final.mean() < 0.5 * random_regret
    steps = readaptation(lambda b: SpikingBanditAgent(8, 5, rng()), bandit)
    assert len(steps) == bandit.switches.sum() and (steps <= 200).all()
