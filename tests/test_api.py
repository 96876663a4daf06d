"""The Python API: make, learn, load, predict/act, evaluate; the README's example as written."""

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import SMALL, TINY

import neurorl
from neurorl.errors import ConfigError, NeurorlError

README = Path(__file__).resolve().parent.parent / "README.md"
SMALL_OVERRIDES = dict(pair.split("=") for pair in SMALL[1::2])


def test_readme_example_runs_as_written_and_evaluates_as_results_json(
    tmp_path, monkeypatch, capsys
):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert len(block.strip().splitlines()) <= 15
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    printed = float(capsys.readouterr().out.strip().splitlines()[-1])
    (results,) = tmp_path.glob("runs/*/*/results.json")
    assert printed == pytest.approx(json.loads(results.read_text())["eval"]["mean_return"])


def test_learn_load_predict_and_act(tmp_path):
    model = neurorl.make(TINY, SMALL_OVERRIDES, seed=5).learn(out=tmp_path)
    assert model.run_dir.parent == tmp_path / TINY and model.config.seed == 5
    policy = neurorl.load(model.run_dir)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    action, state = policy.predict(obs)
    assert action in (0, 1) and state is None  # the small spiking MLP starts from rest
    batch = np.stack([obs, -obs, 2 * obs])
    actions, _ = policy.predict(batch)
    assert actions.shape == (3,) and actions[0] == action
    assert model.predict(obs)[0] == action
    assert policy.act(obs) == action


def test_stateful_policy_carries_its_network_state(tmp_path):
    """The paper network keeps its state from one decision to the next: predict returns it,
    and act keeps it until reset."""
    overrides = {"net.compile": False, "es.population": 4, "train.generations": 1}
    overrides |= {"train.episodes_per_member": 1, "train.center_episodes": 1}
    overrides |= {"train.replay_starts": 0, "eval.episodes": 2}
    model = neurorl.make("cartpole-snn-evol", overrides).learn(out=tmp_path)
    policy = neurorl.load(model.run_dir)
    obs = np.array([0.01, 0.0, 0.02, 0.0])
    _, state = policy.predict(obs)
    assert state is not None
    _, later = policy.predict(obs, state)
    assert not all(
        a.equal(b) for a, b in zip(state.network.cells, later.network.cells, strict=True)
    )
    policy.act(obs)
    assert policy.state is not None
    policy.reset()
    assert policy.state is None


def test_evaluate_on_its_own_env_is_the_test_protocol_and_on_others_plays(small_run):
    policy = neurorl.load(small_run)
    results = json.loads((small_run / "results.json").read_text())["eval"]
    test = neurorl.evaluate(policy, episodes=results["episodes"], seed=results["env_seed"])
    assert test.mean == pytest.approx(results["mean_return"])
    by_id = neurorl.evaluate(policy, "CartPole-v1", results["episodes"], results["env_seed"])
    assert np.array_equal(by_id.returns, test.returns)
    played = neurorl.evaluate(policy, gym.make("CartPole-v1", max_episode_steps=50), 3, seed=1)
    assert played.returns.shape == (3,) and played.returns.max() <= 50
    again = neurorl.evaluate(policy, gym.make("CartPole-v1", max_episode_steps=50), 3, seed=1)
    assert np.array_equal(played.returns, again.returns)


def test_bad_input_is_a_neurorl_error(tmp_path):
    with pytest.raises(NeurorlError, match="unknown experiment 'cartpole-snn-ee'"):
        neurorl.make("cartpole-snn-ee")
    with pytest.raises(ConfigError, match=r"unknown config key 'es\.populaton'"):
        neurorl.make(TINY, {"es.populaton": 8})
    with pytest.raises(ConfigError, match=r"es\.population must be >= 2"):
        neurorl.make(TINY, {"es.population": 1})
    with pytest.raises(NeurorlError, match="does not exist"):
        neurorl.load(tmp_path / "nowhere")
    with pytest.raises(NeurorlError, match="call learn"):
        neurorl.make(TINY).predict(np.zeros(4))
