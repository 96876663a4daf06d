"""Bad input: one clear line on stderr, exit code 2, no traceback, nothing lost."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SMALL, TINY, run_neurorl


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("neurorl: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_unknown_experiment_suggests_closest(cli, tmp_path):
    code, _, err = cli("train", "cartpole-snn-esx", "--out", tmp_path)
    assert_clean_error(
        code, err, "unknown experiment 'cartpole-snn-esx'", "did you mean 'cartpole-snn-es'"
    )
    assert not tmp_path.joinpath("cartpole-snn-esx").exists()


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("es.popsize=8", ["unknown config key 'es.popsize'", "did you mean 'es.population'"]),
        ("es.population=eight", ["config key 'es.population' expects int", "'eight'"]),
        ("net.reset=zero", ["config key 'net.reset' expects one of 'soft', 'hard'"]),
        ("es.population=0", ["es.population must be >= 2"]),
        ("es.learning_rate_end=-1", ["es.learning_rate_end must be >= 0, got -1"]),
        ("es.top_fraction=1.5", ["es.top_fraction must be in (0, 1], got 1.5"]),
        ("train.validation_episodes=-2", ["train.validation_episodes and", "got -2 and 0"]),
        ("train.checkpoint=final", ["config key 'train.checkpoint' expects one of 'best'"]),
        ("train.checkpoint=validated", ["train.checkpoint=validated needs train.validate_every"]),
        ("train.member_max_steps=0", ["train.member_max_steps must be >= 1, got 0"]),
        (
            "train.replay_starts=-1",
            ["train.replay_starts must be in [0, train.episodes_per", "-1 and 20"],
        ),
        ("train.replay_starts=9", ["train.episodes_per_member] (5)", "got 9 and 20"]),
        ("train.replay_pool_size=0", ["train.replay_pool_size >= 1; got 0 and 0"]),
        ("train.replay_starts=1", ["train.replay_starts needs train.common_starts"]),
        ("net.beta=2", ["net.beta", "[0, 1]"]),
        ("es.population", ["--set expects key=value"]),
        ("env_id=Pendulum-v1", ["needs a discrete action space"]),
        ("env_id=NoSuchEnv-v0", ["env_id 'NoSuchEnv-v0'"]),
        ("device=nosuchdevice", ["device 'nosuchdevice'"]),
    ],
)
def test_bad_set_values(cli, tmp_path, override, fragments):
    code, _, err = cli("train", TINY, "--quiet", "--out", tmp_path, "--set", override)
    assert_clean_error(code, err, *fragments)


def test_periodic_validation_needs_validation_episodes(cli, tmp_path):
    sets = ["train.validate_every=2", "train.validation_episodes=0"]
    code, _, err = cli(
        "train", TINY, "--quiet", "--out", tmp_path, *(a for v in sets for a in ("--set", v))
    )
    assert_clean_error(code, err, "train.validate_every needs train.validation_episodes > 0")


def test_stdp_rl_validated_checkpoint_needs_periodic_validation(cli, tmp_path):
    code, _, err = cli(
        "train", "cartpole-snn-stdprl", "--out", tmp_path, "--set", "train.checkpoint=validated"
    )
    assert_clean_error(code, err, "train.checkpoint=validated needs train.validate_every > 0")


@pytest.mark.parametrize(
    ("override", "got"),
    [("lifetime.episodes=-1", "got -1 and 100"), ("lifetime.episodes_per_step=0", "got 800 and 0")],
)
def test_impossible_lifetimes_fail_at_start(cli, tmp_path, override, got):
    code, _, err = cli("train", "cartpole-snn-stdprl-evol", "--out", tmp_path, "--set", override)
    assert_clean_error(
        code, err, "lifetime.episodes must be >= 0 and lifetime.episodes_per_step", got
    )


def test_member_horizon_needs_an_env_with_a_time_limit(cli, tmp_path):
    sets = ["env_id=CliffWalking-v1", "train.member_max_steps=10"]
    code, _, err = cli(
        "train", "cartpole-ann-es", "--quiet", "--out", tmp_path,
        *(a for v in sets for a in ("--set", v)),
    )  # fmt: skip
    assert_clean_error(code, err, "train.member_max_steps needs an env with a time limit")


def test_argparse_errors_are_one_line(tmp_path):
    result = run_neurorl("train", "--seed", "x")
    assert_clean_error(result.returncode, result.stderr, "--seed")
    result = run_neurorl("--threads", "0", "list")
    assert_clean_error(result.returncode, result.stderr, "--threads must be >= 1, got 0")


@pytest.mark.parametrize("command", ["eval", "plot", "export"])
def test_missing_and_non_run_folders(cli, tmp_path, command):
    code, _, err = cli(command, tmp_path / "nope")
    assert_clean_error(code, err, "does not exist")
    code, _, err = cli(command, tmp_path)
    assert_clean_error(code, err, "is not a neurorl run folder")


def test_resume_of_a_non_run_folder(cli, tmp_path):
    code, _, err = cli("train", "--resume", tmp_path)
    assert_clean_error(code, err, "is not a neurorl run folder")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_checkpoint(cli, small_run, tmp_path, damage):
    run = tmp_path / "copy"
    shutil.copytree(small_run, run)
    best = run / "checkpoints" / "best.pt"
    data = best.read_bytes()
    best.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[
            damage
        ]
    )
    results_before = (run / "results.json").read_text()
    code, _, err = cli("eval", run)
    assert_clean_error(code, err, "checkpoint", "best.pt", "corrupted or truncated")
    assert (run / "results.json").read_text() == results_before


def test_resume_with_corrupted_latest(cli, small_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(small_run, run)
    latest = run / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:100])
    code, _, err = cli("train", "--resume", run)
    assert_clean_error(code, err, "latest.pt", "corrupted or truncated")


def test_checkpoint_with_pickled_code_is_refused(cli, small_run, tmp_path):
    import pickle

    run = tmp_path / "copy"
    shutil.copytree(small_run, run)
    with open(run / "checkpoints" / "best.pt", "wb") as file:
        pickle.dump({"params": shutil.rmtree}, file)  # would be callable if unpickled freely
    code, _, err = cli("eval", run)
    assert_clean_error(code, err, "corrupted or truncated")


def test_export_of_a_non_spiking_run(cli, tmp_path):
    code, lines, _ = cli("train", "cartpole-ann-es", "--quiet", "--out", tmp_path, *SMALL)
    assert code == 0
    code, _, err = cli("export", lines[-1])
    assert_clean_error(code, err, "has no spiking policy to export")
    assert not (Path(lines[-1]) / "policy.nir").exists()


def test_divergence_stops_and_keeps_the_last_good_checkpoint(cli, tmp_path):
    code, _, err = cli(
        "train",
        TINY,
        "--quiet",
        "--out",
        tmp_path,
        *SMALL,
        "--set",
        "es.learning_rate=1e30",
        "--set",
        "es.optimizer=sgd",
        "--set",
        "es.variant=multiplicative",  # w <- w (1 + lr ...): inf within two generations
    )
    assert_clean_error(code, err, "diverged", "last good checkpoint kept")
    run = next((tmp_path / "cartpole-snn-es").iterdir())
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert torch.isfinite(state["trainer"]["es"]["center"]).all()
    assert (run / "config.yaml").is_file()


def test_bad_eval_episodes(cli, small_run):
    code, _, err = cli("eval", small_run, "--episodes", "0")
    assert_clean_error(code, err, "--episodes must be >= 1")


@pytest.mark.parametrize(
    ("script", "args", "fragment"),
    [
        ("held_out_test", ["--jobs", "0"], "--jobs must be >= 1, got 0"),
        ("held_out_test", ["--max-episodes", "0"], "--max-episodes must be >= 1, got 0"),
        ("held_out_test", ["--set", "es.popsize=8"], "unknown config key 'es.popsize'"),
        (
            "held_out_test",
            ["--experiment", "cartpole-snn-evolx"],
            "unknown experiment 'cartpole-snn-evolx'",
        ),
        ("cartpole_snn_learning", ["--set", "es.popsize=8"], "unknown config key 'es.popsize'"),
        ("cartpole_snn_learning", ["--seeds", "1", "--jobs", "0"], "--jobs must be >= 1, got 0"),
        (
            "cartpole_snn_learning",
            ["--seeds", "0", "--stdprl-seeds", "1", "--stdprl", "stdp"],
            "unknown experiment 'stdp'",
        ),
        ("deep_rl", ["--mujoco", "hoper"], "unknown experiment 'hoper-snn-td3'"),
        ("deep_rl", ["--seeds", "-1"], "--seeds must be >= 0, got -1"),
        ("default_experiment", ["--seeds", "0"], "--seeds must be >= 1, got 0"),
        ("cartpole_snn", ["--seconds", "0"], "--seconds must be >= 1, got 0.0"),
        ("stdp_rl_seeds", ["--members", "1", "0"], "--members must be >= 1, got [1, 0]"),
        ("stdp_rl_seeds", ["--paper", "0"], "--paper must be >= 1, got 0"),
        ("stdp_rl_seeds", ["--experiment", "cartpole-snn-stdpr"], "unknown experiment"),
        ("core_throughput", ["--threads", "1", "0"], "--threads must be >= 1, got [1, 0]"),
        ("reproduce", ["hasegan2023"], "unknown paper 'hasegan2023'; did you mean 'hasegan2022'?"),
        ("reproduce", ["akl2023", "--workers", "0"], "--workers must be >= 1, got 0"),
        ("reproduce", ["hasegan2022", "--seeds", "0"], "--seeds must be >= 1, got 0"),
        ("reproduce", ["hasegan2022", "--reuse", "runs"], "--out and --reuse are two places"),
        ("paper_es", ["--seeds", "0"], "--seeds must be >= 1, got 0"),
        ("es_seed_batch", ["--seeds", "1"], "--seeds must be >= 2, got 1"),
        ("paper_es", ["--processes", "0"], "--processes must be >= 1, got 0"),
        ("paper_es", ["--set", "es.popsize=8"], "unknown config key 'es.popsize'"),
    ],
)
def test_bad_benchmark_input(tmp_path, script, args, fragment):
    """The benchmark scripts refuse bad flags, names and keys in one line, before they train
    or write anything (BENCHMARKS.md included)."""
    root = Path(__file__).resolve().parent.parent
    benchmarks_md = (root / "BENCHMARKS.md").read_text()
    out = tmp_path / "out"
    no_out = ("cartpole_snn", "core_throughput", "held_out_test", "es_seed_batch")
    out_flag = [] if script in no_out else ["--out", str(out)]
    finished = subprocess.run(
        [sys.executable, str(root / "benchmarks" / f"{script}.py"), *out_flag, *args],
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith(f"{script}.py: error: ") and fragment in lines[0]
    assert not out.exists()
    assert (root / "BENCHMARKS.md").read_text() == benchmarks_md


def test_reproduce_benchmark_refuses_a_missing_reuse_folder(tmp_path):
    """``--reuse`` names runs trained beforehand: a folder that is not there is one line."""
    root = Path(__file__).resolve().parent.parent
    missing = tmp_path / "missing"
    script = root / "benchmarks" / "reproduce.py"
    finished = subprocess.run(
        [sys.executable, str(script), "hasegan2022", "--reuse", str(missing)],
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith(f"reproduce.py: error: --reuse {missing}: no such folder")
    assert not missing.exists()
