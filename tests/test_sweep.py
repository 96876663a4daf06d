import csv
from pathlib import Path

import numpy as np
import pytest

from neurorl.cli import main

# The small LIF network (cartpole-snn-es) with the smallest budget: about a second per run.
TINY = [
    "--set",
    "train.generations=1",
    "--set",
    "es.population=4",
    "--set",
    "train.episodes_per_member=1",
    "--set",
    "eval.episodes=2",
]
GRID = ["--grid", "net.beta=0.7,0.9", "--grid", "net.threshold=0.5,1.0"]
SWEEP = ["sweep", "cartpole-snn-es", *GRID, "--seeds", "1", "--quiet", *TINY]
POINTS = [("0.7", "0.5"), ("0.7", "1.0"), ("0.9", "0.5"), ("0.9", "1.0")]


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, Path]:
    """(out, sweep folder) of one 2 x 2 sweep on one seed."""
    out = tmp_path_factory.mktemp("runs")
    assert main([*SWEEP, "--out", str(out)]) == 0
    (folder,) = (out / "sweep").iterdir()
    return out, folder


def _run_folders(out: Path) -> list[str]:
    return sorted(path.name for path in (out / "cartpole-snn-es").iterdir())


def test_sweep_writes_table_csv_and_heatmap(swept):
    out, folder = swept
    assert folder.name.startswith("cartpole-snn-es-")
    assert len(_run_folders(out)) == 4
    table = (folder / "sweep.md").read_text().splitlines()
    assert "| net.beta | net.threshold | mean | std | per seed (test mean return) |" in table
    rows = [line.split(" | ") for line in table if line.startswith("| 0.")]
    assert [(row[0].strip("| "), row[1]) for row in rows] == POINTS
    with (folder / "sweep.csv").open() as file:
        records = list(csv.DictReader(file))
    assert [(r["net.beta"], r["net.threshold"]) for r in records] == POINTS
    for record, row in zip(records, rows, strict=True):
        assert float(record["mean_return"]) == float(record["seed0"]) > 0
        assert float(record["std_return"]) == 0  # one seed
        assert f"{float(record['mean_return']):.1f}" == row[2]
    assert sum(line.startswith("  - ") for line in table) == 4  # the runs list
    # per value of a key, the spread over the other key's points
    means = {point: float(r["mean_return"]) for point, r in zip(POINTS, records, strict=True)}
    beta_07 = [means[("0.7", "0.5")], means[("0.7", "1.0")]]
    marginal = next(line for line in table if line.startswith("| net.beta | 0.7 |"))
    cells = marginal.split(" | ")
    assert (cells[2], cells[3]) == (f"{np.mean(beta_07):.1f}", f"{np.std(beta_07):.1f}")
    assert "Set at every point: train.generations=1" in "\n".join(table)
    assert (folder / "heatmap_net.beta_net.threshold.png").stat().st_size > 1000


def test_sweep_again_reuses_the_runs(cli, swept):
    out, first = swept
    before = _run_folders(out)
    code, lines, _ = cli(*SWEEP, "--out", out)
    assert code == 0 and _run_folders(out) == before
    folder = Path(lines[-1])
    assert folder.parent == out / "sweep" and folder != first
    assert (folder / "sweep.csv").read_text() == (first / "sweep.csv").read_text()
    # one key, the other as --set: the same configs, so the same runs; a sensitivity plot
    code, lines, _ = cli(
        "sweep", "cartpole-snn-es", "--grid", "net.beta=0.7,0.9", "--set", "net.threshold=1.0",
        "--seeds", "1", "--out", out, "--quiet", *TINY,
    )  # fmt: skip
    assert code == 0 and _run_folders(out) == before
    assert (Path(lines[-1]) / "sensitivity_net.beta.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "net.nope=1,2"], "'net.nope'"),
        (["--grid", "net.beta=abc"], "'net.beta' expects float, got 'abc'"),
        (["--grid", "net.beta=0.7,0.9", "--grid", "net.threshold=0.5,x"], "'net.threshold'"),
        (["--grid", "net.beta=0.7,0.9", "--set", "net.beta=0.8"], "--grid net.beta is also"),
        (["--grid", "net.beta"], "--grid expects KEY=V1,V2,..."),
        (["--grid", "net.beta=0.7,,0.9"], "--grid expects KEY=V1,V2,..."),
        (["--grid", "seed=0,1"], "--seeds"),
        (["--set", "net.beta=0.8"], "at least one --grid"),
        (["--grid", "net.beta=0.7", "--seeds", "0"], "--seeds must be >= 1"),
    ],
)
def test_sweep_refuses_bad_grids_before_training(cli, tmp_path, args, message):
    code, lines, err = cli("sweep", "cartpole-snn-es", "--out", tmp_path, "--quiet", *args)
    assert code == 2 and not lines
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not list(tmp_path.iterdir())  # nothing trained
