"""DQN with a spiking or ReLU Q-network (neurorl.experiments.dqn)."""

import dataclasses
import io
import json
from pathlib import Path

import pytest
import torch
from test_bad_input import assert_clean_error

from neurorl.experiments.dqn import DQNTrainer, next_state_values, td_target
from neurorl.experiments.registry import get_experiment


def small_config(**train):
    config = get_experiment("cartpole-snn-dqn").default_config()
    train = {"steps_per_iteration": 500, "learning_starts": 200, "validation_episodes": 2, **train}
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **train))


def saved_and_loaded(state: dict) -> dict:
    """``state`` through torch.save and torch.load(weights_only=True), as a checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("env_id=Pendulum-v1", ["needs a discrete action space"]),
        ("net.steps=0", ["net.steps must be >= 1"]),
        ("net.current_decay=1.5", ["net.current_decay", "[0, 1]"]),
        ("train.gamma=2", ["train.gamma must be in [0, 1]"]),
        ("train.target_update=sometimes", ["train.target_update", "'hard', 'soft'"]),
        ("train.learning_rate_end=-1", ["train.learning_rate_end must be >= 0"]),
    ],
)
def test_bad_settings_are_one_line(cli, tmp_path, override, fragments):
    code, _, err = cli("train", "cartpole-snn-dqn", "--quiet", "--out", tmp_path, "--set", override)
    assert_clean_error(code, err, *fragments)


def test_truncation_bootstraps_and_termination_does_not():
    rewards = torch.tensor([1.0, 1.0, 1.0])
    next_values = torch.tensor([10.0, 10.0, 10.0])
    terminated = torch.tensor([0.0, 1.0, 0.0])  # the last: a time-limit end (truncated)
    targets = td_target(rewards, next_values, terminated, gamma=0.5)
    assert targets.tolist() == [6.0, 1.0, 6.0]


def test_double_dqn_evaluates_the_online_argmax_with_the_target():
    online = torch.tensor([[1.0, 3.0], [2.0, 0.0]])
    target = torch.tensor([[5.0, 4.0], [1.0, 7.0]])
    assert next_state_values(online, target, double=False).tolist() == [5.0, 7.0]
    assert next_state_values(online, target, double=True).tolist() == [4.0, 1.0]


def test_learning_rate_decays_linearly_over_the_budget():
    trainer = DQNTrainer(small_config(total_steps=1000, learning_rate_end=0.0))
    assert trainer.learning_rate() == pytest.approx(1e-3)
    trainer.train_step()  # whole episodes, >= 500 env steps; a gradient step every 4th
    assert trainer.learning_rate() == pytest.approx(1e-3 * (1 - trainer.env_steps / 1000))
    last_gradient_step = trainer.env_steps - trainer.env_steps % 4
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(
        1e-3 * (1 - last_gradient_step / 1000)
    )
    constant = DQNTrainer(small_config(total_steps=1000))
    constant.train_step()
    assert constant.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_terminal_flags_in_the_buffer():
    trainer = DQNTrainer(small_config(total_steps=300, learning_starts=300))
    trainer.train_step()
    buffer = trainer.buffer
    flags = buffer.data.terminated[: buffer.size]
    # random CartPole episodes end by termination (the budget cuts the last one short)
    assert flags.sum() == trainer.episodes > 0


def test_same_seed_same_metrics_and_exact_resume():
    config = small_config(total_steps=1000)
    reference = DQNTrainer(config)
    first, second = reference.train_step(), reference.train_step()
    interrupted = DQNTrainer(config)
    assert interrupted.train_step() == first
    state = saved_and_loaded(interrupted.state_dict())
    resumed = DQNTrainer(config)
    resumed.load_state_dict(state)
    assert resumed.train_step() == second
    assert torch.equal(resumed.params(), reference.params())


def test_cartpole_snn_dqn_learns():
    """6k env steps: the greedy spiking Q-network clearly beats a random policy (~22)."""
    torch.manual_seed(0)
    trainer = DQNTrainer(
        small_config(total_steps=6000, steps_per_iteration=2000, validation_episodes=5)
    )
    best, best_params = -1.0, None
    while not trainer.finished():
        metrics = trainer.train_step()
        if metrics["greedy_return"] >= best:
            best, best_params = metrics["greedy_return"], trainer.params()
    returns, stats = trainer.evaluate(best_params, 10, 42)
    assert returns.mean() > 100, returns
    assert stats["spikes_per_decision"] > 0 and stats["synops_per_decision"] > 0


def test_a_policy_nir_cannot_hold_still_finishes_its_run(cli, tmp_path):
    """Randomised decays clipped to 1 (no leak) have no NIR time constant: the run still ends
    with its results, which say why policy.nir is missing."""
    code, lines, _ = cli(
        "train", "cartpole-snn-dqn", "--quiet", "--out", tmp_path,
        "--set", "net.voltage_decay=0.99", "--set", "net.randomise=uniform",
        "--set", "net.spread=0.5", "--set", "train.total_steps=300",
        "--set", "train.steps_per_iteration=300", "--set", "train.validation_episodes=1",
        "--set", "eval.episodes=2",
    )  # fmt: skip
    assert code == 0
    run = Path(lines[-1])
    results = json.loads((run / "results.json").read_text())
    assert results["eval"]["episodes"] == 2
    assert results["export"].startswith("not exported: run ")
    assert "cannot export beta outside [0, 1)" in results["export"]
    assert not (run / "policy.nir").exists()
