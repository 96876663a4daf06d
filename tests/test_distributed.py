"""Runs trained as tasks of a real local Ray cluster (started once for this module)."""

from pathlib import Path

import pytest
from conftest import SMALL, TINY, run_neurorl

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _metrics(out: Path, name: str) -> dict[str, str]:
    """{run folder name's seed part: metrics.csv} of every run of ``name`` under ``out``."""
    return {
        path.name.split("-", 2)[-1]: (path / "metrics.csv").read_text()
        for path in (out / name).iterdir()
    }


def test_compare_on_ray_trains_the_same_runs_as_in_process(cli, cluster, tmp_path):
    args = ["compare", TINY, "--seeds", "2", "--quiet", *SMALL]
    code, lines, _ = cli(*args, "--out", tmp_path / "ray", "--workers", "2")
    assert code == 0
    table = (Path(lines[-1]) / "comparison.md").read_text()
    assert f"| {TINY} | 2 |" in table
    code, _, _ = cli(*args, "--out", tmp_path / "here")
    assert code == 0
    on_ray, here = _metrics(tmp_path / "ray", TINY), _metrics(tmp_path / "here", TINY)
    assert sorted(on_ray) == ["seed0", "seed1"] and on_ray == here
    code, _, _ = cli(*args, "--out", tmp_path / "ray", "--workers", "2")  # reused
    assert code == 0 and len(list((tmp_path / "ray" / TINY).iterdir())) == 2


def test_sweep_on_ray_reports_a_failed_run_in_one_line_and_keeps_the_others(cli, cluster, tmp_path):
    """es.learning_rate=1e30 with the multiplicative ES diverges within two generations."""
    code, _, err = cli(
        "sweep", TINY, "--grid", "es.learning_rate=0.03,1e30", "--seeds", "1", "--out", tmp_path,
        "--workers", "2", *SMALL, "--set", "es.optimizer=sgd",
        "--set", "es.variant=multiplicative",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 5  # 2 x "training", "done", "failed", the error
    error = err.strip().splitlines()[-1]
    assert error.startswith("neurorl: error: [2/2] es.learning_rate=1e30 seed 0: training ")
    assert "diverged" in error
    finished = [path for path in (tmp_path / TINY).iterdir() if (path / "results.json").exists()]
    assert len(finished) == 1 and len(list((tmp_path / TINY).iterdir())) == 2


def test_an_unreachable_cluster_is_one_clear_line():
    result = run_neurorl("compare", TINY, "--address", "127.0.0.1:9", "--seeds", "1")
    assert result.returncode == 2 and result.stderr.count("\n") == 2  # "training", the error
    assert "no Ray cluster answers at 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers must be >= 1, got 0"),
        (["--workers", "2", "--address", "auto"], "give --workers (a local cluster) or --address"),
    ],
)
def test_bad_cluster_options_are_one_clear_line(cli, args, message):
    code, _, err = cli("sweep", TINY, "--grid", "net.beta=0.8", *args)
    assert code == 2 and err.count("\n") == 1 and message in err
