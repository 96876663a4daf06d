"""Deep spiking RL (Akl et al. 2023): CartPole SNN-DQN over seeds, Pendulum SNN vs ANN TD3,
and the MuJoCo SNN vs ANN TD3 table.

Each run is a real run folder (training, evaluation of the best checkpoint on the
experiment's test episodes from env seed 42, plots, NIR export), one torch thread. Targets:
cartpole-snn-dqn test mean >= 475 within 100k env steps in < 10 min per seed;
pendulum-snn-td3 >= -200 within 30k steps. Figures go to BENCHMARKS.md.

    python benchmarks/deep_rl.py [--seeds 3] [--td3-seeds 1] [--skip-td3] [--out DIR]

With ``--throughput ENV`` it instead measures training env steps per second of
``ENV-snn-td3`` against ``ENV-ann-td3`` in one process, interleaved (``--repeats`` rounds of
``--steps`` learning steps each after a warm-up, on ``--device``), so both see the same
machine load.

With ``--mujoco ENV,...`` it instead trains ``ENV-snn-td3`` and ``ENV-ann-td3`` for
``--seeds`` seeds and ``--steps`` env steps each on ``--device`` and writes the table of test
returns (mean and std over seeds, SNN / ANN): the paper's 1M-step table is ``--mujoco
halfcheetah,hopper,walker2d,ant --steps 1000000 --seeds 5 --device cuda``.

Bad flags, env names or devices: one line, exit code 2, before anything is trained; a run
that fails: one line, exit code 1.
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from report import (
    check_experiments,
    check_minimums,
    main_with_one_line_errors,
    provenance,
    write_section,
)

from neurorl.cli import OneLineParser
from neurorl.cli import main as neurorl
from neurorl.config import apply_overrides
from neurorl.errors import NeurorlError
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import check_device

HEADER = [
    "| experiment | seed | test mean ± std (episodes) | env steps | training s | spikes / "
    "decision | synops / decision | MACs / decision |",
    "|---|---|---|---|---|---|---|---|",
]


def train(experiment: str, seed: int, out: Path, *options: str) -> tuple[dict, float]:
    """Train ``experiment`` with ``seed``: (its results.json, whole command seconds)."""
    started = time.perf_counter()
    command = ["train", experiment, "--quiet", "--seed", str(seed), "--out", str(out), *options]
    if neurorl(command) != 0:
        raise NeurorlError(f"neurorl {' '.join(command)} failed")
    wall = time.perf_counter() - started
    run_dir = max((out / experiment).glob(f"*-seed{seed}"))
    return json.loads((run_dir / "results.json").read_text()), wall


def run(experiment: str, seed: int, out: Path) -> str:
    """Train ``experiment`` with ``seed``; one table row of its results.json."""
    results, wall = train(experiment, seed, out)
    test, train_info = results["eval"], results["train"]
    row = (
        f"| {experiment} | {seed} | {test['mean_return']:.1f} ± {test['std_return']:.1f} "
        f"({test['episodes']}) | {train_info['env_steps']} | {train_info['wall_seconds']:.0f} | "
        f"{test['spikes_per_decision']:.0f} | {test['synops_per_decision']:.0f} | "
        f"{test['macs_per_decision']:.0f} |"
    )
    print(row, f"(whole command {wall:.0f} s)", flush=True)
    return row


def td3_throughput(env: str, steps: int, repeats: int, device: str) -> str:
    """Env steps per second of SNN-TD3 and ANN-TD3 training (act, store, learn), interleaved."""
    trainers = {}
    for kind in ("snn", "ann"):
        experiment = get_experiment(f"{env}-{kind}-td3")
        options = {
            "train.steps_per_iteration": str(steps),
            "train.validation_episodes": "1",
            "device": device,
        }
        config = apply_overrides(experiment.default_config(), options)
        trainers[kind] = experiment.make_trainer(config)
        trainers[kind].train_step()  # warm-up: the random-action steps, then learning
    rates: dict[str, list[float]] = {"snn": [], "ann": []}
    for _ in range(repeats):
        for kind, trainer in trainers.items():
            before, started = trainer.env_steps, time.perf_counter()
            trainer.train_step()
            rates[kind].append((trainer.env_steps - before) / (time.perf_counter() - started))
    snn, ann = max(rates["snn"]), max(rates["ann"])
    return "\n".join(
        [
            f"`{env}-snn-td3` against `{env}-ann-td3`: env steps per second of training (acting, "
            f"replay, one learning step per env step, one greedy evaluation episode per "
            f"{steps} steps), best of {repeats} interleaved rounds, one thread, device {device}.",
            "",
            "| SNN-TD3 env steps / s | ANN-TD3 env steps / s | ANN / SNN (wall-time ratio) |",
            "|---|---|---|",
            f"| {snn:.0f} | {ann:.0f} | {ann / snn:.2f} |",
        ]
    )


def mujoco_table(envs: list[str], seeds: int, steps: int, device: str, out: Path, jobs: int) -> str:
    """SNN vs ANN TD3 on MuJoCo envs: one row per env (mean ± std of test returns over seeds);
    ``jobs`` runs train in parallel processes."""
    lines = [
        f"`ENV-snn-td3` and `ENV-ann-td3`, {steps} env steps, seeds 0..{seeds - 1}, device "
        f"{device}, {jobs} run(s) at a time; test: the best checkpoint on the experiment's test "
        "episodes from env seed 42.",
        "",
        "| env | SNN test mean ± std | ANN test mean ± std | SNN / ANN | SNN training s | "
        "ANN training s |",
        "|---|---|---|---|---|---|",
    ]
    options = ("--device", device, "--set", f"train.total_steps={steps}")
    tasks = [(env, kind, seed) for env in envs for kind in ("snn", "ann") for seed in range(seeds)]
    with ProcessPoolExecutor(jobs) as pool:
        futures = {
            task: pool.submit(train, f"{task[0]}-{task[1]}-td3", task[2], out, *options)
            for task in tasks
        }
        results = {task: future.result()[0] for task, future in futures.items()}
    for env in envs:
        means, seconds = {}, {}
        for kind in ("snn", "ann"):
            runs = [results[env, kind, seed] for seed in range(seeds)]
            means[kind] = np.array([r["eval"]["mean_return"] for r in runs])
            seconds[kind] = np.mean([r["train"]["wall_seconds"] for r in runs])
        snn, ann = means["snn"], means["ann"]
        lines.append(
            f"| {env} | {snn.mean():.0f} ± {snn.std():.0f} | {ann.mean():.0f} ± {ann.std():.0f} | "
            f"{snn.mean() / ann.mean():.2f} | {seconds['snn']:.0f} | {seconds['ann']:.0f} |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="cartpole-snn-dqn seeds")
    parser.add_argument("--td3-seeds", type=int, default=1, help="Pendulum TD3 seeds per kind")
    parser.add_argument("--skip-td3", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--mujoco", help="comma-separated envs: the MuJoCo TD3 table instead")
    parser.add_argument("--steps", type=int, default=1_000_000, help="MuJoCo env steps per run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    parser.add_argument("--throughput", help="an env (e.g. pendulum): SNN vs ANN TD3 speed")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    check_minimums(parser, args, seeds=0, td3_seeds=0, steps=1, jobs=1, repeats=1)
    envs = [args.throughput] if args.throughput else (args.mujoco or "").split(",")
    names = [f"{env}-{kind}-td3" for env in envs if env for kind in ("snn", "ann")]
    check_experiments(parser, names)
    try:
        check_device(args.device)
    except NeurorlError as error:
        parser.error(str(error))
    torch.set_num_threads(1)
    if args.throughput:
        steps = min(args.steps, 5_000)
        throughput = td3_throughput(args.throughput, steps, args.repeats, args.device)
        body = provenance() + "\n\n" + throughput
        where = args.throughput if args.device == "cpu" else f"{args.throughput}, {args.device}"
        print(write_section(f"TD3 training throughput, SNN vs ANN ({where})", body))
        return
    if args.mujoco:
        with tempfile.TemporaryDirectory() as scratch:
            out = args.out or Path(scratch)
            envs = args.mujoco.split(",")
            table = mujoco_table(envs, args.seeds, args.steps, args.device, out, args.jobs)
        body = provenance() + "\n\n" + table
        print(write_section(f"MuJoCo TD3, SNN vs ANN, {args.steps} steps", body))
        return
    runs = [("cartpole-snn-dqn", seed) for seed in range(args.seeds)]
    if not args.skip_td3:
        runs += [
            (f"pendulum-{kind}-td3", seed)
            for kind in ("snn", "ann")
            for seed in range(args.td3_seeds)
        ]
    with tempfile.TemporaryDirectory() as scratch, ProcessPoolExecutor(args.jobs) as pool:
        out = args.out or Path(scratch)
        rows = list(pool.map(run, *zip(*runs, strict=True), [out] * len(runs)))
    body = "\n".join(
        [
            provenance(),
            "",
            "Best checkpoint (greedy score each iteration) tested on the experiment's test "
            f"episodes from env seed 42; one torch thread, {args.jobs} run(s) at a time. Energy "
            "proxies per decision: SNN "
            "synaptic operations (spikes x fan-out, accumulate only) and the MACs of its dense "
            "input layer; ANN MACs (e.g. 45 nm: 0.9 pJ per 32-bit add, 4.6 pJ per 32-bit "
            "multiply-add, Horowitz 2014).",
            "",
            *HEADER,
            *rows,
        ]
    )
    print(write_section("Deep spiking RL (Akl et al. 2023)", body))


if __name__ == "__main__":
    main_with_one_line_errors(main)
