"""Evolution's test curve: the training episodes and seconds at which the centre first tests
>= 475 on the paper's protocol, against the paper's 80,000 episodes.

Each seed trains in this process through the experiment's own trainer, so its metrics are
those of ``neurorl train NAME --seed S`` with the same keys. Every ``--every``-th iteration (a
generation of the ES; cartpole-snn-stdprl-evol's first ones are its STDP-RL phase's blocks
of episodes), and at the trainer's own stop, the weights that the iteration scored play the
test (the config's ``eval``: 100 episodes from env seed 42), on a clock and an episode count
of their own: the test's episodes draw from their own streams and change nothing in the
training. A seed ends at its first test >= 475, or where its training ends, or
(``--max-episodes N``) at its last iteration within N training episodes, tested there (the
iteration that went past N is dropped, its seconds with it; iteration 0, the untrained
weights, if the first did).
The curve of every seed goes to ``--out/curve-seed<S>.csv``, and all of them to
``--out/test-curve.png`` (test mean against training episodes). Bad flags, experiment names
or keys: one line, exit code 2.

    python benchmarks/evolution_test_curve.py [--experiment cartpole-snn-evol-quick]
        [--seeds 2] [--every 5] [--max-episodes N] [--set KEY=VALUE ...] [--jobs 1] [--out DIR]
"""

from __future__ import annotations

import csv
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch
from cartpole_snn_learning import PAPER_EPISODES, TARGET
from report import check_experiments, check_minimums, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.core import configure_cpu
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import resolve_config


def test_curve(
    name: str,
    seed: int,
    overrides: dict[str, str],
    every: int,
    max_episodes: int | None,
    out: Path,
) -> list[dict]:
    """Train one seed, testing its weights every ``every`` iterations, until the first test
    >= TARGET or its training's end, or, when an iteration takes the training episodes past
    ``max_episodes``, at the last iteration within them; the curve's rows, also written to
    ``out``."""
    torch.set_num_threads(1)
    configure_cpu()
    experiment = get_experiment(name)
    config = resolve_config(experiment, {**overrides, "seed": str(seed)})
    torch.manual_seed(config.seed)  # as Run.make_trainer
    trainer = experiment.make_trainer(config)

    def tested(point: dict, params: torch.Tensor) -> dict:
        returns, _ = trainer.evaluate(params, config.eval.episodes, config.eval.env_seed)
        return {**point, "test_mean": float(returns.mean()), "test_std": float(returns.std())}

    rows, training_seconds = [], 0.0
    start = {"iteration": 0, "episodes": 0, "training_s": 0.0, "score": float("nan")}
    within = (start, trainer.params())  # the last iteration within max_episodes
    while not trainer.finished():
        started = time.perf_counter()
        metrics = trainer.train_step()
        seconds = time.perf_counter() - started
        if max_episodes is not None and trainer.episodes > max_episodes:
            if not rows or rows[-1]["iteration"] != within[0]["iteration"]:
                rows.append(tested(*within))
            break
        training_seconds += seconds
        point = {
            "iteration": trainer.iteration,
            "episodes": trainer.episodes,
            "training_s": round(training_seconds, 1),
            "score": metrics[trainer.score_key],
        }
        within = (point, trainer.params())
        if trainer.iteration % every and not trainer.finished():
            continue
        rows.append(tested(*within))
        if rows[-1]["test_mean"] >= TARGET:
            break
    with (out / f"curve-seed{seed}.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def plot_curves(curves: list[list[dict]], path: Path) -> None:
    """Test mean against training episodes, one line per seed, with the target and the
    issue's episode budget (10x fewer than the paper's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for seed, rows in enumerate(curves):
        axes.plot(
            [r["episodes"] for r in rows], [r["test_mean"] for r in rows], label=f"seed {seed}"
        )
    axes.axhline(TARGET, color="grey", linestyle="--", linewidth=0.8)
    axes.axvline(PAPER_EPISODES / 10, color="grey", linestyle=":", label="paper's episodes / 10")
    axes.set(xlabel="training episodes", ylabel="test mean return (100 episodes)", ylim=(0, 510))
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="cartpole-snn-evol-quick")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1")
    parser.add_argument("--every", type=int, default=5, help="iterations between tests")
    parser.add_argument(
        "--max-episodes", type=int, help="end a seed at its last iteration within this"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at a time")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/test-curve"))
    args = parser.parse_args()
    check_minimums(parser, args, seeds=1, every=1, jobs=1, max_episodes=1)
    overrides, (config,) = check_experiments(parser, [args.experiment], args.overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        curves = list(
            pool.map(
                test_curve,
                [args.experiment] * args.seeds,
                range(args.seeds),
                [overrides] * args.seeds,
                [args.every] * args.seeds,
                [args.max_episodes] * args.seeds,
                [args.out] * args.seeds,
            )
        )
    plot_curves(curves, args.out / "test-curve.png")
    ends = [rows[-1] for rows in curves]
    sets = "".join(f" --set {pair}" for pair in args.overrides)
    budget = f" within {args.max_episodes} training episodes" if args.max_episodes else ""
    lines = [
        provenance(),
        "",
        f"`neurorl train {args.experiment}{sets}` per seed in-process, {args.jobs} at a time, "
        f"its weights tested every {args.every} iterations ({config.eval.episodes} episodes "
        f"from env seed {config.eval.env_seed}, neither counted nor timed); each seed's first "
        f"test >= {TARGET:.0f}, or its last{budget}.",
        "",
        "| seed | iteration | test mean ± std | training episodes | paper's episodes / ours | "
        "training s |",
        "|---|---|---|---|---|---|",
    ]
    for seed, end in enumerate(ends):
        lines.append(
            f"| {seed} | {end['iteration']} | {end['test_mean']:.1f} ± {end['test_std']:.1f} | "
            f"{end['episodes']} | {PAPER_EPISODES / end['episodes']:.1f}x | "
            f"{end['training_s']:.0f} |"
        )
    reached = sum(end["test_mean"] >= TARGET for end in ends)
    lines += ["", f"A test >= {TARGET:.0f} on {reached} of {len(ends)} seeds."]
    body = "\n".join(lines)
    print(body)
    run = " ".join([args.experiment, *args.overrides])
    run += f", within {args.max_episodes} episodes" if args.max_episodes else ""
    print(write_section(f"Haşegan 2022 network: evolution's test curve, {run}", body))


if __name__ == "__main__":
    main()
