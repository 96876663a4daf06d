"""The neuromodulated spiking actor-critic on the non-stationary CartPole (``cartpole-neuromod``,
Lee 2024's spiking extension): the batched world against the Gymnasium wrapper, ACh and NA
on the update and the noise, the re-adaptation count, learning, resume and bad input."""

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
from neurorl.neuromod import Moments

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


def params(modulated: list[bool], rate=0.5, temperature=0.2, gain=1.0) -> ac.ActorCriticParams:
    rows = len(modulated)
    return ac.ActorCriticParams(
        rate=torch.full((rows,), rate),
        critic_scale=torch.ones(rows),
        temperature=torch.full((rows,), temperature),
        noise_gain=torch.full((rows,), gain),
        modulated=torch.tensor(modulated),
        slow=np.full(rows, 1e-3),
    )


def test_acetylcholine_scales_the_update_and_noradrenaline_the_noise():
    state = ac.initial_state(2, 2, 3)
    recent, expected = 0.3, 0.1  # E and A: ACh = 0.75
    state = state._replace(
        fast=Moments(np.zeros(2), np.full(2, recent)),
        slow=Moments(np.zeros(2), np.full(2, expected)),
    )
    p = params([True, False])
    rate, temperature = ac.modulation(state, p)
    assert rate.tolist() == pytest.approx([0.5 * 0.75, 0.5])
    assert temperature.tolist() == pytest.approx([0.2 + 1.0 * 0.75, 0.2])
    phi = torch.tensor([[1.0, 0.5, -0.5]] * 2)
    share = torch.tensor([[0.4, 0.6]] * 2)
    chosen = torch.tensor([0, 0])
    failure = torch.ones(2)
    delta, after = ac.learn(
        phi, phi, -failure, failure, torch.ones(2), chosen, share, state, p, rate
    )
    assert delta.tolist() == [-1.0, -1.0]  # V = 0: the failure's -1 is all surprise
    change = after.actor - state.actor
    # the chosen action loses preference by rate * delta * (1 - its share) * phi
    np.testing.assert_allclose(change[1, 0], -0.5 * 0.6 * phi[0], rtol=1e-6)
    np.testing.assert_allclose(change[0], 0.75 * change[1], rtol=1e-6)
    np.testing.assert_allclose(after.critic[0], 0.75 * after.critic[1], rtol=1e-6)
    # the moments read dopamine: the surprise raises E faster than A, so ACh rises
    assert ac.acetylcholine_of(after)[0] > 0.75


def test_an_unmodulated_agent_keeps_its_rate_and_noise_whatever_its_errors():
    state = ac.initial_state(1, 2, 3)
    p = params([False], rate=0.3, temperature=0.4)
    for recent in (0.0, 1.0, 100.0):
        state = state._replace(fast=Moments(np.zeros(1), np.full(1, recent)))
        rate, temperature = ac.modulation(state, p)
        assert rate.tolist() == pytest.approx([0.3]) and temperature.tolist() == pytest.approx(
            [0.4]
        )
    # a fresh modulated agent starts uncertain: ACh 1
    assert ac.acetylcholine_of(ac.initial_state(1, 2, 3)).tolist() == pytest.approx([1.0])


def test_episodes_to_readapt_counts_to_the_first_window_at_the_level():
    world = WorldConfig(episodes_per_block=6, blocks=3)
    readapt = ReadaptConfig(window=2, level=100.0)
    returns = np.array(
        [[0, 0, 0, 0, 0, 0, 50, 150, 100, 200, 0, 0, 10, 10, 10, 10, 10, 10]], dtype=float
    ).T  # block 1: windows (50, 150) -> n 2; block 2: never
    found = episodes_to_readapt(returns, world, readapt)
    assert found[:, 0].tolist() == [2.0, 7.0]


def test_both_agents_learn_cartpole_far_beyond_random():
    """The tuned settings of the study (docs/lee2024/README.md), one stationary world."""
    config = NeuromodCartPoleConfig(
        world=WorldConfig(values=(0.5, 0.5), episodes_per_block=10, blocks=2, max_episode_steps=200)
    )
    seeds = np.array([0, 1, 2, 3] * 2)
    modulated = np.array([True] * 4 + [False] * 4)
    hyper = {
        "rate": np.where(modulated, 0.5, 0.5),
        "temperature": np.where(modulated, 0.025, 0.025),
        "noise_gain": np.where(modulated, 1.0, 0.0),
        "slow": np.where(modulated, 1e-3, 1e-4),
    }
    run = play(config, seeds, hyper, modulated)
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
    assert results["test_seeds"] == [42, 43] and results["tuning_seeds"] == [100000, 100000]
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
        ("tuning.first_seed=50", "must be disjoint"),
        ("agent.fast=0", "agent.fast must be in (0, 1], got 0"),
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
