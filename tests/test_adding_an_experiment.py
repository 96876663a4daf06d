"""docs/adding-an-experiment.md's toy trainer, run from the page itself: registered, trained,
interrupted and resumed, evaluated and plotted through the CLI."""

import json
import re
from pathlib import Path

import pytest

from neurorl.experiments.registry import EXPERIMENTS

PAGE = Path(__file__).resolve().parent.parent / "docs" / "adding-an-experiment.md"


@pytest.fixture(scope="module")
def toy():
    """The page's first Python block, executed; the experiment it registers."""
    block = re.search(r"```python\n(.*?)```", PAGE.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(block, str(PAGE), "exec"), namespace)
    yield namespace["HillClimbTrainer"]
    EXPERIMENTS.pop("cartpole-hill-climb")


def test_the_toy_trainer_is_about_forty_lines():
    block = re.search(r"class HillClimbTrainer.*?\n\n\n", PAGE.read_text(), re.S).group(0)
    assert len(block.strip().splitlines()) <= 45


def test_toy_trains_resumes_evaluates_and_plots_through_the_cli(toy, cli, tmp_path, monkeypatch):
    budget = ["cartpole-hill-climb", "--quiet", "--seed", "2", "--set", "iterations=6"]
    budget += ["--set", "eval.episodes=10"]
    code, lines, err = cli("train", *budget, "--out", tmp_path / "whole")
    assert code == 0, err
    whole = Path(lines[-1])
    for name in ("config.yaml", "metrics.csv", "results.json", "checkpoints/best.pt"):
        assert (whole / name).is_file(), name
    assert (whole / "plots").is_dir() and list((whole / "plots").glob("*.png"))
    results = json.loads((whole / "results.json").read_text())
    assert results["train"]["iterations"] == 6 and results["train"]["episodes"] == 30
    assert results["export"].startswith("not exported")  # a linear policy has no NIR graph

    real_step = toy.train_step

    def interrupted(self):
        if self.iteration == 3:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(toy, "train_step", interrupted)
    code, _, _ = cli("train", *budget, "--out", tmp_path / "cut")
    assert code == 130
    cut = next((tmp_path / "cut" / "cartpole-hill-climb").iterdir())
    assert not (cut / "results.json").exists()
    monkeypatch.setattr(toy, "train_step", real_step)
    code, lines, err = cli("train", "--resume", cut, "--quiet")
    assert code == 0, err
    assert (cut / "metrics.csv").read_text() == (whole / "metrics.csv").read_text()
    resumed = json.loads((cut / "results.json").read_text())
    assert resumed["eval"] == results["eval"]

    code, lines, _ = cli("eval", whole, "--episodes", "10")
    assert code == 0 and f"{results['eval']['mean_return']:.1f}" in lines[0]
    code, lines, _ = cli("plot", whole)
    assert code == 0 and all(Path(line).is_file() for line in lines)


def test_a_name_taken_twice_is_refused(toy):
    import neurorl

    with pytest.raises(neurorl.errors.NeurorlError, match="already registered"):
        neurorl.register(EXPERIMENTS["cartpole-hill-climb"])


def test_a_row_without_a_column_of_the_first_row_is_one_line(toy, cli, tmp_path, monkeypatch):
    """A trainer whose rows change their keys stops in one line, not with a KeyError."""
    real_step = toy.train_step

    def changing(self):
        row = real_step(self)
        return {**row, "extra": 1.0} if self.iteration == 1 else row

    monkeypatch.setattr(toy, "train_step", changing)
    code, _, err = cli("train", "cartpole-hill-climb", "--quiet", "--out", tmp_path)
    assert code == 2 and err.count("\n") == 1
    assert "metrics row 2 lacks extra, which the first row had" in err
