"""TD3 with a spiking or ReLU actor (neurorl.experiments.td3)."""

import dataclasses
import json
from pathlib import Path

from test_bad_input import assert_clean_error
from test_dqn import saved_and_loaded

from neurorl.experiments.registry import get_experiment
from neurorl.experiments.td3 import TD3Trainer

TINY = {
    "train.total_steps": 40,
    "train.steps_per_iteration": 20,
    "train.learning_starts": 10,
    "train.batch_size": 8,
    "train.buffer_size": 100,
    "train.validation_episodes": 1,
    "eval.episodes": 2,
}


def test_discrete_env_is_rejected(cli, tmp_path):
    code, _, err = cli(
        "train", "pendulum-snn-td3", "--quiet", "--out", tmp_path, "--set", "env_id=CartPole-v1"
    )
    assert_clean_error(code, err, "needs a continuous (Box) action space")


def test_hopper_snn_td3_runs_end_to_end(cli, tmp_path):
    overrides = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    code, lines, err = cli("train", "hopper-snn-td3", "--quiet", "--out", tmp_path, *overrides)
    assert code == 0, err
    run = Path(lines[-1])
    results = json.loads((run / "results.json").read_text())
    assert results["train"]["env_steps"] == 40 and results["eval"]["episodes"] == 2
    assert results["eval"]["synops_per_decision"] >= 0
    assert (run / "policy.nir").is_file()


def small_pendulum(**train):
    config = get_experiment("pendulum-snn-td3").default_config()
    actor = dataclasses.replace(config.actor, hidden=(32, 32))
    critic = dataclasses.replace(config.critic, hidden=(32, 32))
    train = {"steps_per_iteration": 200, "learning_starts": 100, "batch_size": 16, **train}
    train = dataclasses.replace(config.train, validation_episodes=1, **train)
    return dataclasses.replace(config, actor=actor, critic=critic, train=train)


def test_time_limit_is_not_terminal_and_resume_is_exact():
    """Pendulum only truncates (200 steps): no transition is stored as terminal."""
    config = small_pendulum(total_steps=400)
    reference = TD3Trainer(config)
    first, second = reference.train_step(), reference.train_step()
    assert reference.episodes == 2
    assert reference.buffer.data.terminated[: reference.buffer.size].sum() == 0
    interrupted = TD3Trainer(config)
    assert interrupted.train_step() == first
    resumed = TD3Trainer(config)
    resumed.load_state_dict(saved_and_loaded(interrupted.state_dict()))
    assert resumed.train_step() == second
    assert (resumed.params() == reference.params()).all()
