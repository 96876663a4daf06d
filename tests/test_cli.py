import json
import shutil
from pathlib import Path

import nir
import numpy as np
import yaml
from conftest import SMALL, TINY, run_neurorl

from neurorl.analysis.plots import seed_band

RESULT_KEYS = ["mean_return", "std_return", "median_return", "episodes", "env_seed"]


def test_list_names_every_experiment(cli):
    code, lines, _ = cli("list")
    assert code == 0
    names = [line.split()[0] for line in lines]
    assert "cartpole-snn-es" in names and "cartpole-ann-es" in names
    assert any("(default)" in line for line in lines)


def test_train_writes_a_complete_run_folder(small_run: Path):
    for name in [
        "config.yaml",
        "metrics.csv",
        "results.json",
        "checkpoints/latest.pt",
        "checkpoints/best.pt",
        "plots/learning_curve.png",
        "policy.nir",
    ]:
        assert (small_run / name).is_file(), name
    assert list((small_run / "tensorboard").glob("events.out.tfevents.*"))
    config = yaml.safe_load((small_run / "config.yaml").read_text())
    assert config["experiment"] == "cartpole-snn-es" and config["seed"] == 3
    assert (
        config["es"]["population"] == 8 and config["net"]["beta"] == 0.8
    )  # resolved: defaults too
    rows = (small_run / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("iteration,env_steps,episodes") and len(rows) == 1 + 3
    results = json.loads((small_run / "results.json").read_text())
    assert results["experiment"] == "cartpole-snn-es" and results["seed"] == 3
    assert all(key in results["eval"] for key in RESULT_KEYS)
    assert results["eval"]["episodes"] == 5 and results["eval"]["env_seed"] == 42
    assert results["train"]["env_steps"] > 0 and results["train"]["episodes"] == 3 * 9 * 2
    assert results["train"]["wall_seconds"] > 0
    graph = nir.read(small_run / "policy.nir")
    assert any(isinstance(node, nir.LIF) for node in graph.nodes.values())


def test_train_prints_the_run_folder_last(tmp_path):
    result = run_neurorl("train", TINY, "--out", tmp_path, "--seed", "1", *SMALL)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert Path(last).is_dir() and Path(last).parent == tmp_path / "cartpole-snn-es"
    assert Path(last).name.endswith("-seed1")
    assert "Traceback" not in result.stderr


def test_same_config_and_seed_give_the_same_metrics(cli, tmp_path):
    folders = []
    for out in ("a", "b"):
        code, lines, _ = cli(
            "train", TINY, "--quiet", "--out", tmp_path / out, "--seed", "5", *SMALL
        )
        assert code == 0
        folders.append(Path(lines[-1]))
    first, second = ((f / "metrics.csv").read_text() for f in folders)
    assert first == second
    results = [json.loads((f / "results.json").read_text())["eval"] for f in folders]
    assert results[0] == results[1]


def test_best_checkpoint_holds_the_best_last_or_best_validated_centre_as_configured(cli, tmp_path):
    """The same run kept with train.checkpoint=best, =last and =validated: the same centres
    and scores; best.pt is the generation of the highest score (the later of equal ones), the
    last generation, or that of the highest validation return (generations 2, 4 and the last
    play validation episodes; the others none), and last's holds the centre that the final
    trainer state says was scored last."""
    import csv

    import torch

    kept, rows = {}, {}
    for mode, extra in (("best", []), ("last", []), ("validated", ["train.validate_every=2"])):
        sets = [f"train.checkpoint={mode}", "train.validation_episodes=3", *extra]
        code, lines, _ = cli(
            "train", TINY, "--quiet", "--out", tmp_path / mode, "--seed", "5", *SMALL,
            "--set", "train.generations=5", "--set", "train.stop_score=null",
            *(arg for value in sets for arg in ("--set", value)),
        )  # fmt: skip
        assert code == 0
        kept[mode] = Path(lines[-1])
        rows[mode] = list(csv.DictReader((kept[mode] / "metrics.csv").open()))
    assert (kept["best"] / "metrics.csv").read_text() == (kept["last"] / "metrics.csv").read_text()
    centres = [[row["center_return"] for row in rows[mode]] for mode in ("best", "validated")]
    assert centres[0] == centres[1]  # validation episodes leave the training unchanged
    scores = [float(row["score"]) for row in rows["best"]]
    validation = [float(row["validation_return"]) for row in rows["validated"]]
    assert [v >= 8 for v in validation] == [False, True, False, True, True]
    assert validation == [float(row["score"]) for row in rows["validated"]]

    def last_best(values: list[float]) -> int:
        return max(i + 1 for i, value in enumerate(values) if value == max(values))

    best_generation = last_best(scores)
    assert best_generation < len(scores), "seed 5 no longer peaks early: pick another seed"
    expected = {
        "best": (best_generation, scores),
        "last": (len(scores), scores),
        "validated": (last_best(validation), validation),
    }
    for mode, (generation, values) in expected.items():
        checkpoints = kept[mode] / "checkpoints"
        best = torch.load(checkpoints / "best.pt", weights_only=True)
        assert best["iteration"] == generation and best["score"] == values[generation - 1]
        results = json.loads((kept[mode] / "results.json").read_text())
        assert results["eval"]["checkpoint_iteration"] == generation
    latest = torch.load(kept["last"] / "checkpoints" / "latest.pt", weights_only=True)
    last = torch.load(kept["last"] / "checkpoints" / "best.pt", weights_only=True)
    assert torch.equal(last["params"], latest["trainer"]["scored_center"])


def test_other_seed_gives_other_metrics(cli, tmp_path, small_run):
    code, lines, _ = cli("train", TINY, "--quiet", "--out", tmp_path, "--seed", "4", *SMALL)
    assert code == 0
    assert (Path(lines[-1]) / "metrics.csv").read_text() != (small_run / "metrics.csv").read_text()


def test_a_config_that_lacks_a_key_is_refused_in_one_line(cli, small_run, tmp_path):
    """A config.yaml without one of the experiment's keys (another version's) is not opened
    with today's default for it: eval refuses in one line, and compare does not reuse it."""
    from neurorl.experiments.compare import find_finished_run
    from neurorl.experiments.runner import open_run

    out = tmp_path / "runs"
    run = out / TINY / small_run.name
    shutil.copytree(small_run, run)
    config = open_run(run).config
    assert find_finished_run(out, TINY, config) == run
    config_file = run / "config.yaml"
    lines = config_file.read_text().splitlines(keepends=True)
    config_file.write_text("".join(line for line in lines if "validate_every" not in line))
    assert find_finished_run(out, TINY, config) is None
    code, _, err = cli("eval", run, "--episodes", "2")
    assert code == 2
    assert err.count("\n") == 1 and "lacks 1 key(s)" in err and "train.validate_every" in err


def test_eval_uses_given_episodes_and_seed(cli, small_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(small_run, run)
    code, lines, _ = cli("eval", run, "--episodes", "7", "--env-seed", "123")
    assert code == 0 and lines[-1] == str(run / "results.json")
    results = json.loads((run / "results.json").read_text())
    assert results["eval"]["episodes"] == 7 and results["eval"]["env_seed"] == 123
    assert results["train"]["env_steps"] > 0  # training info is kept
    assert results["export"] == "policy.nir"  # and so is what the run's end exported


def test_plot_regenerates(cli, small_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(small_run, run)
    (run / "plots" / "learning_curve.png").unlink()
    code, lines, _ = cli("plot", run)
    assert code == 0 and Path(lines[-1]).is_file()


def test_export_writes_policy_nir(cli, small_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(small_run, run)
    (run / "policy.nir").unlink()
    code, lines, _ = cli("export", run, "--format", "nir")
    assert code == 0 and lines[-1] == str(run / "policy.nir")
    assert isinstance(nir.read(run / "policy.nir"), nir.NIRGraph)


def test_compare_trains_then_reuses_runs(cli, tmp_path):
    args = [
        "compare",
        "cartpole-snn-es",
        "cartpole-ann-es",
        "--seeds",
        "2",
        "--out",
        tmp_path,
        "--quiet",
        *SMALL,
    ]
    code, lines, _ = cli(*args)
    assert code == 0
    folder = Path(lines[-1])
    table = (folder / "comparison.md").read_text()
    assert "| cartpole-snn-es | 2 |" in table and "| cartpole-ann-es | 2 |" in table
    assert "| untrained (cartpole-snn-es) | 2 |" in table
    random_row = next(line for line in table.splitlines() if line.startswith("| random policy"))
    assert 10 < float(random_row.split("|")[3]) < 40  # CartPole's random policy: ~22 steps
    assert (folder / "comparison.png").stat().st_size > 1000
    runs_before = sorted(p.name for p in (tmp_path / "cartpole-snn-es").iterdir())
    assert len(runs_before) == 2
    code, lines, _ = cli(*args)  # the same config and seeds: gathered, not retrained
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "cartpole-snn-es").iterdir()) == runs_before


def test_compare_runs_different_learning_rules_on_the_paper_network(cli, tmp_path):
    """STDP-RL and evolution of the same network, each with its own small budget."""
    stage = (
        "[{env_steps: 60, window_ms: 5, lifetime_ms: 250, rate: 0.01, angvel_weight: 1.2, "
        "positive_bias: 2, opposite_factor: 0.9}]"
    )
    code, lines, _ = cli(
        "compare", "cartpole-snn-stdprl", "cartpole-snn-evol", "--seeds", "1", "--out", tmp_path,
        "--quiet", "--set", "eval.episodes=3",
        "--set", f"cartpole-snn-stdprl:stages={stage}",
        "--set", "cartpole-snn-stdprl:net.compile=false",
        "--set", "cartpole-snn-evol:train.generations=1",
        "--set", "cartpole-snn-evol:es.population=4",
        "--set", "cartpole-snn-evol:train.episodes_per_member=1",
        "--set", "cartpole-snn-evol:train.replay_starts=1",
        "--set", "cartpole-snn-evol:train.center_episodes=1",
        "--set", "cartpole-snn-evol:net.compile=false",
    )  # fmt: skip
    assert code == 0
    table = (Path(lines[-1]) / "comparison.md").read_text()
    assert "| cartpole-snn-stdprl | 1 |" in table and "| cartpole-snn-evol | 1 |" in table
    # one network, two learning rules: a single untrained row
    assert "| untrained (cartpole-snn-stdprl, cartpole-snn-evol) | 1 |" in table
    code, _, err = cli("compare", "cartpole-snn-es", "--out", tmp_path, "--set", "nope:seed=1")
    assert code == 2 and "'nope' is not one of the compared experiments" in err
    code, _, err = cli("compare", "cartpole-snn-es", "--out", tmp_path, "--seeds", "0")
    assert code == 2 and "--seeds must be >= 1, got 0" in err


def test_a_run_from_another_device_is_evaluated_plotted_and_exported_here(cli, small_run, tmp_path):
    """A run whose config names a device this machine lacks (trained on a GPU, say): a clear
    one-line error, and with --device cpu the commands work on its checkpoints."""
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("device: cpu", "device: cuda:7"))
    code, _, err = cli("eval", run, "--episodes", "3")
    assert code == 2 and "device 'cuda:7' is not usable here" in err
    assert "take --device" in err and "Traceback" not in err
    code = cli("eval", run, "--episodes", "3", "--device", "cpu")[0]
    assert code == 0 and json.loads((run / "results.json").read_text())["eval"]["episodes"] == 3
    assert cli("plot", run, "--device", "cpu")[0] == 0
    assert cli("export", run, "--device", "cpu")[0] == 0
    assert "device: cuda:7" in config.read_text()  # the run's own record stays as it was


def test_comparison_curves_run_to_the_longest_seed():
    """A seed that stopped early holds its last score; the band reaches the longest seed."""
    short = {"episodes": np.array([10.0, 20.0]), "score": np.array([1.0, 3.0])}
    long = {"episodes": np.array([10.0, 50.0, 100.0]), "score": np.array([0.0, 2.0, 4.0])}
    grid, values = seed_band([short, long], "score", points=11)
    assert grid[-1] == 100.0
    assert values.shape == (2, 11)
    np.testing.assert_allclose(values[0, 3:], 3.0)  # from episode 30 on: its last score
    np.testing.assert_allclose(values[1, [5, 10]], [2.0, 4.0])
