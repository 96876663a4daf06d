"""The neuromodulated spiking actor-critic on the non-stationary CartPole (``cartpole-neuromod``,
Lee 2024's spiking extension): the batched world against the Gymnasium wrapper, ACh's gain on
the update and NA on the noise, the gain rising after a change, rows independent of their
batch, the re-adaptation count, learning, resume and bad input."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from test_bad_input import assert_clean_error

from neurorl.envs.nonstationary import set_cartpole_physics
from neurorl.experiments.neuromod_cartpole import (
    NeuromodCartPoleConfig,
    NeuromodCartPoleTrainer,
    ReadaptConfig,
    TuningConfig,
    WorldConfig,
    episodes_to_readapt,
    play,
    start_states,
)
from neurorl.learn import neuromod_actor_critic as ac
from neurorl.neuromod import Moments, relative_gain

TINY = [
    "--set", "world.max_episode_steps=40",
    "--set", "world.episodes_per_block=4",
    "--set", "world.blocks=2",
    "--set", "tuning.seeds=1",
    "--set", "eval.episodes=2",
    "--set", "readapt.window=2",
    "--set", "readapt.level=30",
]  # fmt: skip


@pytest.mark.parametrize(("parameter", "value"), [("length", 1.5), ("gravity", 20.0)])
def test_batched_world_moves_as_the_gymnasium_wrapper(parameter, value):
    wrapper = gym.make(
        "neurorl/NonStationaryCartPole-v0", parameter=parameter, values=(1.0, value),
        episodes_per_block=1,
    )  # fmt: skip
    wrapper.reset(seed=0)
    _, info = wrapper.reset(seed=0)  # episode 1: block 1, the switched value
    assert info["parameter_value"] == value
    batched = CartPoleVectorEnv(num_envs=2)
    set_cartpole_physics(batched, parameter, value)
    batched.reset(seed=0)
    start = start_states(np.array([7, 8]), episode=3)
    batched.state = start.copy()
    wrapper.unwrapped.state = start[:, 1].copy()
    for action in [0, 1, 1, 0, 1, 1, 1, 0]:
        obs, _, _, _, _ = wrapper.step(action)
        batch_obs, _, _, _, _ = batched.step(np.array([1 - action, action]))
        np.testing.assert_allclose(batch_obs[1], obs, rtol=1e-6)
    # a seed's start states do not depend on the batch it is in
    np.testing.assert_array_equal(start_states(np.array([8]), 3)[:, 0], start[:, 1])


def params(
    modulated: list[bool], rate=0.5, temperature=0.2, gain=1.0, gain_max=4.0, power=1.0
) -> ac.ActorCriticParams:
    rows = len(modulated)
    return ac.ActorCriticParams(
        rate=torch.full((rows,), rate),
        critic_scale=torch.ones(rows),
        temperature=torch.full((rows,), temperature),
        noise_gain=torch.full((rows,), gain),
        gain_max=np.full(rows, gain_max),
        power=torch.full((rows,), power),
        modulated=torch.tensor(modulated),
        slow=np.full(rows, 1e-3),
        baseline=np.full(rows, 1e-3),
    )


def test_relative_gain_is_the_ratio_clipped_both_ways():
    gain = relative_gain(np.array([0.6, 0.9, 0.01, 0.3]), np.array([0.3, 0.1, 0.5, 0.3]), 4.0)
    np.testing.assert_allclose(gain, [2.0, 4.0, 0.25, 1.0])


def test_acetylcholine_gain_scales_the_update_and_noradrenaline_the_noise():
    state = ac.initial_state(3, 2, 3)
    recent, expected = 0.3, 0.1  # E and A: ACh u = 0.75, against its running mean 0.5: g 1.5
    state = state._replace(
        fast=Moments(np.zeros(3), np.full(3, recent)),
        slow=Moments(np.zeros(3), np.full(3, expected)),
    )
    p = params([True, True, False])._replace(power=torch.tensor([1.0, -1.0, 1.0]))
    rate, temperature = ac.modulation(state, p)
    assert rate.tolist() == pytest.approx([0.5 * 1.5, 0.5 / 1.5, 0.5])
    assert temperature.tolist() == pytest.approx([0.2 + 1.0 * 0.5, 0.2 + 1.0 * 0.5, 0.2])
    phi = torch.tensor([[1.0, 0.5, -0.5]] * 3)
    share = torch.tensor([[0.4, 0.6]] * 3)
    chosen = torch.tensor([0, 0, 0])
    failure = torch.ones(3)
    delta, after = ac.learn(
        phi, phi, -failure, failure, torch.ones(3), chosen, share, state, p, rate
    )
    assert delta.tolist() == [-1.0, -1.0, -1.0]  # V = 0: the failure's -1 is all surprise
    change = after.actor - state.actor
    # the chosen action loses preference by rate * delta * (1 - its share) * phi
    np.testing.assert_allclose(change[2, 0], -0.5 * 0.6 * phi[0], rtol=1e-6)
    np.testing.assert_allclose(change[0], 1.5 * change[2], rtol=1e-6)
    np.testing.assert_allclose(after.critic[1], after.critic[2] / 1.5, rtol=1e-6)
    # the moments read dopamine: the surprise raises E faster than A, so ACh rises, and its
    # running mean follows it at rate baseline
    ach = ac.acetylcholine_of(after)
    assert (ach > 0.75).all()
    np.testing.assert_allclose(after.ach_mean, 0.5 + 1e-3 * (ach - 0.5))


def test_acetylcholine_raises_plasticity_above_the_base_rate_after_a_switch():
    """Dopamine's errors small (+-0.1) for 3,000 steps, then large (+-1): the modulated rate
    sits near the base while the world is as expected and rises above it (and above the
    unmodulated row's) right after the change; NA's noise rises with it; power -1 turns the
    plasticity down instead."""
    p = params([True, True, False], rate=0.5, temperature=0.1, gain=0.2)._replace(
        power=torch.tensor([1.0, -1.0, 1.0])
    )
    state = ac.initial_state(3, 2, 1)
    zero, live = torch.zeros(3, 1), torch.ones(3)
    share, chosen = torch.full((3, 2), 0.5), torch.zeros(3, dtype=torch.long)

    def feed(size: float, steps: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        nonlocal state
        rates, temperatures = [], []
        for t in range(steps):  # features 0: V stays 0 and delta is the reward
            rate, temperature = ac.modulation(state, p)
            rates.append(rate)
            temperatures.append(temperature)
            reward = torch.full((3,), size * (-1) ** t)
            _, state = ac.learn(zero, zero, reward, zero[:, 0], live, chosen, share, state, p, rate)
        return rates, temperatures

    feed(0.1, 3000)
    stable_rate, stable_temperature = ac.modulation(state, p)
    # errors as expected: u near its running mean, g near 1
    assert stable_rate[0].item() == pytest.approx(0.5, abs=0.05)
    assert stable_temperature[0] == pytest.approx(0.1)  # NA at rest
    rates, temperatures = feed(1.0, 50)
    peak = torch.stack(rates).max(0).values
    assert peak[0] > 1.5 * 0.5 and peak[0] > 1.5 * peak[2]  # ACh raises plasticity
    assert torch.stack(rates).min(0).values[1] < 0.5 / 1.5  # power -1: turned down
    assert torch.stack(temperatures).max(0).values[0] > 0.1 + 0.2 * 0.5  # NA: more noise
    assert all(r[2] == pytest.approx(0.5) for r in rates)  # unmodulated: fixed


def test_an_unmodulated_agent_keeps_its_rate_and_noise_whatever_its_errors():
    state = ac.initial_state(1, 2, 3)
    p = params([False], rate=0.3, temperature=0.4)
    for recent in (0.0, 1.0, 100.0):
        state = state._replace(fast=Moments(np.zeros(1), np.full(1, recent)))
        rate, temperature = ac.modulation(state, p)
        assert rate.tolist() == pytest.approx([0.3]) and temperature.tolist() == pytest.approx(
            [0.4]
        )
    # a fresh agent starts uncertain: ACh 1 against its running mean 1/2, gain 2
    fresh = ac.initial_state(1, 2, 3)
    assert ac.acetylcholine_of(fresh).tolist() == pytest.approx([1.0])
    assert ac.gain_of(fresh, params([True])).tolist() == pytest.approx([2.0])


def hyper_of(rows: int, **values: float) -> dict[str, np.ndarray]:
    base = {
        "rate": 0.5,
        "temperature": 0.025,
        "noise_gain": 0.025,
        "gain_max": 2.0,
        "power": 1.0,
        "slow": 1e-3,
        "baseline": 1e-3,
    }
    return {key: np.full(rows, values.get(key, value)) for key, value in base.items()}


@pytest.mark.parametrize("reward_noise", [0.0, 0.2])
def test_a_rows_numbers_do_not_depend_on_its_batch_mates(reward_noise):
    world = WorldConfig(
        episodes_per_block=3, blocks=2, max_episode_steps=60, reward_noise=reward_noise
    )
    config = NeuromodCartPoleConfig(world=world, readapt=ReadaptConfig(window=2, level=50.0))
    alone = play(config, np.array([7]), hyper_of(1), np.array([True]))
    hyper = hyper_of(3)
    hyper["rate"] = np.array([1.0, 0.5, 0.25])
    hyper["power"] = np.array([-1.0, 1.0, 1.0])
    batch = play(config, np.array([3, 7, 9]), hyper, np.array([False, True, True]))
    for trace in ("returns", "acetylcholine", "rate", "temperature"):
        np.testing.assert_array_equal(getattr(alone, trace)[:, 0], getattr(batch, trace)[:, 1])
    # the batch mates did play otherwise (the comparison is not vacuous)
    assert not np.array_equal(batch.rate[:, 0], batch.rate[:, 1])
    assert not np.array_equal(batch.returns[:, 1], batch.returns[:, 2])
    if reward_noise:  # the noise reaches the learner: the same row learns otherwise without it
        quiet = dataclasses.replace(config, world=dataclasses.replace(world, reward_noise=0.0))
        calm = play(quiet, np.array([7]), hyper_of(1), np.array([True]))
        assert not np.array_equal(calm.returns, alone.returns)


def test_episodes_to_readapt_counts_to_the_first_window_at_the_level():
    world = WorldConfig(episodes_per_block=6, blocks=3)
    readapt = ReadaptConfig(window=2, level=100.0)
    returns = np.array(
        [[0, 0, 0, 0, 0, 0, 50, 150, 100, 200, 0, 0, 10, 10, 10, 10, 10, 10]], dtype=float
    ).T  # block 1: windows (50, 150) -> n 2; block 2: never
    found = episodes_to_readapt(returns, world, readapt)
    assert found[:, 0].tolist() == [2.0, 7.0]


def test_both_agents_learn_cartpole_far_beyond_random():
    """Settings near the tuned ones (docs/lee2024/README.md), one stationary world."""
    config = NeuromodCartPoleConfig(
        world=WorldConfig(values=(0.5, 0.5), episodes_per_block=10, blocks=2, max_episode_steps=200)
    )
    seeds = np.array([0, 1, 2, 3] * 2)
    modulated = np.array([True] * 4 + [False] * 4)
    run = play(config, seeds, hyper_of(8), modulated)
    random_return = 22.0  # uniform random actions on CartPole-v1, ~22 steps
    late = run.returns[-5:]
    assert late[:, :4].mean() > 5 * random_return and late[:, 4:].mean() > 5 * random_return
    assert (run.temperature[:, 4:] == np.float32(0.025)).all()  # unmodulated: constant noise
    # the modulated agent comes to expect its errors (slow moments at 1e-3 per step)
    assert (run.acetylcholine[0, :4] > run.acetylcholine[-1, :4] + 0.3).all()


def test_study_runs_through_the_cli_and_resumes_exactly(cli, tmp_path):
    code, _, err = cli("train", "cartpole-neuromod", "--quiet", "--out", tmp_path, *TINY)
    assert code == 0, err
    run = next((tmp_path / "cartpole-neuromod").iterdir())
    results = json.loads((run / "results.json").read_text())["eval"]
    assert results["test_seeds"] == [5000, 5001] and results["tuning_seeds"] == [100000, 100000]
    assert (
        results["switches_modulated"] == 2 and (run / "plots" / "switches.png").stat().st_size > 0
    )
    config = NeuromodCartPoleConfig(
        world=WorldConfig(max_episode_steps=40, episodes_per_block=4, blocks=2),
        readapt=ReadaptConfig(window=2, level=30.0),
        tuning=TuningConfig(seeds=1),
    )
    whole = NeuromodCartPoleTrainer(config)
    rows = [whole.train_step(), whole.train_step()]
    first = NeuromodCartPoleTrainer(config)
    first.train_step()
    resumed = NeuromodCartPoleTrainer(config)
    resumed.load_state_dict(first.state_dict())
    assert resumed.train_step() == rows[1]
    assert torch.equal(resumed.params(), whole.params())
    assert resumed.episodes == whole.episodes and resumed.env_steps == whole.env_steps
    # the agent after its lifelong run acts in the Gymnasium wrapper through predict
    policy = whole.agent(whole.params(), seed=0)
    env = gym.make("neurorl/NonStationaryCartPole-v0", max_episode_steps=40)
    observation, _ = env.reset(seed=1)
    action, _ = policy.predict(observation)
    assert env.action_space.contains(int(action))
    assert policy.predict(np.stack([observation] * 3))[0].shape == (3,)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("world.blocks=1", "world.blocks must be >= 2 (a switch), got 1"),
        ("world.episodes_per_block=0", "world.episodes_per_block must be >= 1, got 0"),
        ("world.values=[0.5, -1]", "world.values must be 2 or more positive values"),
        ("world.parameter=mass", "expects one of 'length', 'gravity', got 'mass'"),
        ("readapt.window=40", "readapt.window (40) must fit in a block"),
        ("tuning.first_seed=4998", "must be disjoint"),
        ("agent.fast=0", "agent.fast must be in (0, 1], got 0"),
        ("world.reward_noise=-0.1", "world.reward_noise must be >= 0, got -0.1"),
        ("agent.scales=[1, 1, 0, 1]", "agent.scales must be 4 positive values"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, override, fragment):
    code, _, err = cli(
        "train", "cartpole-neuromod", "--quiet", "--out", tmp_path, "--set", override
    )
    assert_clean_error(code, err, fragment)
    assert not (tmp_path / "cartpole-neuromod").exists()


def test_benchmark_refuses_bad_flags_in_one_line():
    root = Path(__file__).resolve().parent.parent
    benchmarks_md = (root / "BENCHMARKS.md").read_text()
    script = root / "benchmarks" / "neuromod_cartpole.py"
    finished = subprocess.run(
        [sys.executable, str(script), "--seeds", "1"], capture_output=True, text=True
    )
    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and "--seeds must be >= 2, got 1" in lines[0], finished.stderr
    assert (root / "BENCHMARKS.md").read_text() == benchmarks_md
