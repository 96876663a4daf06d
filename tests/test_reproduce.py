"""``neurorl reproduce``: a paper's table in one command, on a tiny reproduction of its own."""

import json
import math
import os
import socket
from pathlib import Path

import pytest
from test_bad_input import assert_clean_error

from neurorl.experiments.reproduce import REPRODUCTIONS, Reproduction, Row, Study
from neurorl.experiments.runner import MetricsLog, _save_latest, create_run, record

SMALL = {"train.generations": "2", "es.population": "8", "train.episodes_per_member": "2"}
SMALL |= {"eval.episodes": "5", "train.snapshots": "[1, 5]"}
TINY = Reproduction(
    title="A tiny paper",
    protocol="test: 5 episodes from env seed 42",
    seeds=2,
    quick_seeds=1,
    rows=(
        Row("random policy", "cartpole-snn-es", "random", "20", SMALL),
        Row("untrained", "cartpole-snn-es", "untrained", "~23", SMALL),
        Row("evolved LIF network", "cartpole-snn-es", "test", "500", SMALL, {"eval.episodes": "3"}),
        Row("evolved LIF network", "cartpole-snn-es", "best_score", "-", SMALL),
        Row("evolved ReLU network", "cartpole-ann-es", "test", "-", SMALL),
        Row("evolved LIF network", "cartpole-snn-es", "test", "-", SMALL, iteration=1),
        Row("evolved LIF network", "cartpole-snn-es", "test", "-", SMALL, iteration=5),
    ),
    studies=(
        Study(
            "LIF network over its membrane decay",
            "cartpole-snn-es",
            grid={"net.beta": ("0.8", "0.9")},
            settings={"reference": {}, "high threshold": {"net.threshold": "2.0"}},
            paper="sensitive to the decay",
            seeds=1,
            quick_grid={"net.beta": ("0.9",)},
            overrides=SMALL,
        ),
    ),
)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(REPRODUCTIONS, "tiny2024", TINY)


def _run_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("cartpole-*-es/*") if p.is_dir())


def test_reproduce_writes_the_table_and_reuses_its_runs(tiny, cli, tmp_path):
    code, lines, err = cli("reproduce", "tiny2024", "--out", tmp_path, "--quiet")
    assert code == 0, err
    folder = Path(lines[-1])
    assert folder == tmp_path / "reproduce" / "tiny2024"
    table = (folder / "reproduction.md").read_text()
    assert "| evolved LIF network | `cartpole-snn-es` | test | 500 |" in table
    assert "(2 seeds)" in table and "Quick version" not in table
    assert "neurorl reproduce tiny2024" in table and "- commit: " in table
    assert (folder / "reproduction.png").is_file()
    record = json.loads((folder / "reproduction.json").read_text())
    runs = _run_folders(tmp_path)
    # two experiments x two seeds (the LIF rows share their runs), then the study's runs: one
    # seed x two settings x two points, the reference at beta 0.8 being the LIF rows' seed 0
    assert len(runs) == 4 + 3
    lif = [Path(path) for path in record["runs"][f"cartpole-snn-es {dict(sorted(SMALL.items()))}"]]
    test, best = record["rows"][2]["values"], record["rows"][3]["values"]
    results = [json.loads((run / "results.json").read_text()) for run in lif]
    assert test == [r["eval"]["mean_return"] for r in results]
    assert best == [r["train"]["best_score"] for r in results]
    # the snapshot at iteration 1, tested after training; iteration 5 lies beyond 2 generations
    assert all((run / "checkpoints" / "iteration-1.pt").is_file() for run in lif)
    at_one = [r["eval"]["mean_return_at_iteration"]["1"] for r in results]
    assert record["rows"][5]["values"] == at_one and record["rows"][6]["values"] == [None, None]
    assert "| `cartpole-snn-es` | test at iteration 5 | - | not reached" in table
    every_run = [json.loads((run / "results.json").read_text())["train"] for run in runs]
    assert [t["seeds_in_batch"] for t in every_run] == [1] * len(runs)  # ES: one seed a run
    assert record["training_wall_seconds"] == round(sum(t["wall_seconds"] for t in every_run), 1)
    assert f"the training of its {len(runs)} runs" in table
    study = record["studies"][0]["settings"]
    assert study["reference"]["points"] == [{"net.beta": "0.8"}, {"net.beta": "0.9"}]
    assert study["reference"]["values"][0] == [test[0]]
    assert "## Robustness: LIF network over its membrane decay" in table
    assert "| high threshold | net.threshold=2.0 |" in table
    for setting in ("reference", "high-threshold"):
        assert (folder / f"robustness_{setting}_sensitivity_net.beta.png").is_file()

    code, _, err = cli("reproduce", "tiny2024", "--out", tmp_path, "--quiet")
    assert code == 0, err
    assert _run_folders(tmp_path) == runs  # reused, none trained again
    assert json.loads((folder / "reproduction.json").read_text())["rows"] == record["rows"]


def test_quick_runs_its_own_budgets_and_says_so(tiny, cli, tmp_path):
    code, lines, err = cli("reproduce", "tiny2024", "--quick", "--out", tmp_path, "--quiet")
    assert code == 0, err
    table = (Path(lines[-1]) / "reproduction.md").read_text()
    assert Path(lines[-1]).name == "tiny2024-quick"
    assert "Quick version" in table and "(1 seeds)" in table


def test_bad_input_is_one_line_and_overwrites_nothing(tiny, cli, tmp_path, monkeypatch):
    code, _, err = cli("reproduce", "hasegan2023", "--out", tmp_path)
    assert_clean_error(code, err, "unknown paper 'hasegan2023'; did you mean 'hasegan2022'?")
    code, _, err = cli("reproduce", "tiny2024", "--seeds", "0", "--out", tmp_path)
    assert_clean_error(code, err, "--seeds must be >= 1, got 0")
    assert not tmp_path.joinpath("reproduce").exists()

    code, lines, _ = cli("reproduce", "tiny2024", "--seeds", "1", "--out", tmp_path, "--quiet")
    assert code == 0
    table = (Path(lines[-1]) / "reproduction.md").read_text()
    other = dict(SMALL, **{"es.population": "6"})
    changed = Reproduction(
        TINY.title, TINY.protocol, (Row("x", "cartpole-snn-es", "test", "-", other),), 1
    )
    monkeypatch.setitem(REPRODUCTIONS, "tiny2024", changed)
    code, _, err = cli("reproduce", "tiny2024", "--seeds", "1", "--out", tmp_path, "--quiet")
    assert_clean_error(code, err, "es.population=8", "not 6", "use another --out")
    assert (Path(lines[-1]) / "reproduction.md").read_text() == table


def test_every_reproduction_row_resolves_and_its_config_is_json_data():
    """Each registered paper's rows and studies resolve (names, keys, quick budgets); the
    rows' configs, sections in tuples included (STDP-RL's stages, the network's projections),
    become the JSON data that reproduction.json keeps and compares."""
    from neurorl.config import flatten
    from neurorl.experiments.registry import get_experiment
    from neurorl.experiments.reproduce import _plain, _settings, _study_requests
    from neurorl.experiments.runner import resolve_config

    for paper in ("hasegan2022", "akl2023"):
        for row in REPRODUCTIONS[paper].rows:
            for quick in (False, True):
                config = resolve_config(get_experiment(row.experiment), _settings(row, quick))
                plain = _plain(flatten(config))
                assert json.loads(json.dumps(plain)) == plain
        for study in REPRODUCTIONS[paper].studies:
            for quick in (False, True):
                for _, point, requests in _study_requests(study, quick, 1):
                    config = resolve_config(get_experiment(study.experiment), requests[0].overrides)
                    assert all(str(flatten(config)[key]) == value for key, value in point.items())


def _stopped_after_one_generation(out: Path) -> Path:
    """A run of the tiny paper's LIF row, seed 0, that stopped after 1 of its 2 generations."""
    run = create_run("cartpole-snn-es", {**SMALL, "seed": "0"}, out)
    trainer = run.make_trainer()
    _save_latest(run, trainer, -math.inf, 0.0)
    log = MetricsLog(run, keep_rows=0)
    record(run, trainer, log, trainer.train_step(), -math.inf, 0.0)
    log.close()
    return run.path


def test_a_run_that_stopped_early_is_resumed_not_trained_again(tiny, cli, tmp_path):
    stopped = _stopped_after_one_generation(tmp_path / "repro")
    code, lines, err = cli("reproduce", "tiny2024", "--seeds", "1", "--out", tmp_path / "repro")
    assert code == 0, err
    assert "evolved LIF network 0: resuming" in err
    record_ = json.loads((Path(lines[-1]) / "reproduction.json").read_text())
    key = f"cartpole-snn-es {dict(sorted(SMALL.items()))}"
    assert record_["runs"][key] == [str(stopped)]
    assert not (stopped / "training.lock").exists()
    code, lines, err = cli("train", "cartpole-snn-es", *_sets(SMALL), "--out", tmp_path / "fresh")
    assert code == 0, err
    fresh = Path(lines[-1])
    assert (stopped / "metrics.csv").read_text() == (fresh / "metrics.csv").read_text()


def test_a_run_in_training_is_not_trained_by_a_second_process(cli, tmp_path):
    stopped = _stopped_after_one_generation(tmp_path)
    (stopped / "training.lock").write_text(f"{socket.gethostname()}:{os.getpid()}\n")
    code, _, err = cli("train", "--resume", stopped)
    assert_clean_error(code, err, "is being trained by process", "training.lock")
    assert len((stopped / "metrics.csv").read_text().splitlines()) == 2  # header + 1 row
    (stopped / "training.lock").write_text(f"{socket.gethostname()}:{2**22 + 17}\n")  # gone
    code, _, err = cli("train", "--resume", stopped, "--quiet")
    assert code == 0, err
    assert (stopped / "results.json").is_file() and not (stopped / "training.lock").exists()


def _sets(overrides: dict[str, str]) -> list[str]:
    return [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]
