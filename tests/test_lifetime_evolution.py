"""STDP-RL, then evolution from the weights it learned (cartpole-snn-stdprl-evol)."""

import json

import torch
from conftest import run_neurorl

from neurorl.config import apply_overrides
from neurorl.core import configure_cpu
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import read_metrics

NAME = "cartpole-snn-stdprl-evol"
SMALL = {  # 3 STDP-RL episodes in steps of 2, then 2 generations of 4 members + 2 centre rows
    "net.compile": "false",
    "lifetime.episodes": "3",
    "lifetime.episodes_per_step": "2",
    "lifetime.stages": "[{env_steps: 120, window_ms: 5, lifetime_ms: 250, rate: 0.05, "
    "angvel_weight: 1.2, positive_bias: 2, opposite_factor: 0.9}]",
    "es.population": "4",
    "train.generations": "2",
    "train.center_episodes": "2",
    "train.validation_episodes": "2",
}


def _trainer(**overrides: str):
    configure_cpu()
    experiment = get_experiment(NAME)
    config = apply_overrides(experiment.default_config(), {**SMALL, **overrides})
    torch.manual_seed(config.seed)
    return experiment.make_trainer(config)


def test_the_es_starts_from_the_weights_that_stdp_rl_learned_and_counts_every_episode():
    trainer = _trainer()
    untrained = trainer.params()
    assert torch.equal(untrained, trainer.evolution.params())  # the same network and weights
    assert trainer.budget == 2 + 2
    first = trainer.train_step()
    assert (first["phase"], first["episodes"]) == (0, 2)
    second = trainer.train_step()
    assert (second["phase"], second["episodes"]) == (0, 3)  # the lifetime's last, short step
    learned = trainer.lifetime.params()
    assert not torch.equal(learned, untrained)
    assert torch.equal(trainer.evolution.es.center, learned)  # the ES's centre starts there
    assert torch.equal(trainer.params(), learned)
    third = trainer.train_step()
    assert third["phase"] == 1 and third["return"] == trainer.evolution.last_center_return
    assert third["episodes"] == 3 + trainer.evolution.episodes
    assert third["env_steps"] == trainer.lifetime.env_steps + trainer.evolution.env_steps
    assert list(third) == list(first)  # one metrics.csv row layout for both phases
    trainer.train_step()
    assert trainer.finished() and trainer.progress == trainer.budget


def test_a_resumed_run_continues_as_an_uninterrupted_one():
    uninterrupted = _trainer()
    rows = [uninterrupted.train_step() for _ in range(3)]
    resumed = _trainer()
    resumed.train_step()
    state = resumed.state_dict()
    again = _trainer()
    again.load_state_dict(state)
    assert [again.train_step(), again.train_step()] == rows[1:]
    assert torch.equal(again.params(), uninterrupted.params())


def test_neurorl_train_runs_both_phases_to_a_tested_checkpoint(tmp_path):
    flags = [arg for key, value in SMALL.items() for arg in ("--set", f"{key}={value}")]
    result = run_neurorl("train", NAME, "--out", tmp_path, "--quiet", *flags)
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / NAME).iterdir())
    rows = read_metrics(run / "metrics.csv")
    assert [row["phase"] for row in rows] == ["0", "0", "1", "1"]
    results = json.loads((run / "results.json").read_text())
    assert results["train"]["episodes"] == int(rows[-1]["episodes"])
    assert results["eval"]["checkpoint_iteration"] == 4  # the ES's last scored centre
    assert (run / "plots" / "learning_curve.png").is_file()
