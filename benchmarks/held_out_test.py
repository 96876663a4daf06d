"""Train to the trainer's own stop or an episode budget, then test once: the honest form of
"a test >= 475 within N episodes".

Each seed trains in this process through the experiment's own trainer (its metrics are those
of ``neurorl train NAME --seed S`` with the same keys) until the trainer stops on its own
criterion (e.g. the ES's centre holding the pole on its scoring and validation episodes,
all from seeds of their own), its budget ends, or (``--max-episodes N``) the next iteration
would take its episodes past N (that iteration is dropped, its seconds with it). Every
episode the trainer played counts, validation included. Then the policy the run keeps (its
``keeps``: the last scored, or the best scored within the budget) plays the test once: the
config's ``eval``, 100 episodes from env seed 42. No test is played before that, so nothing
stops or selects on it. Bad flags, experiment names or keys: one line, exit code 2.

    python benchmarks/held_out_test.py [--experiment cartpole-snn-stdprl-evol] [--seeds 2]
        [--max-episodes N] [--set KEY=VALUE ...] [--jobs 1]
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
from cartpole_snn_learning import PAPER_EPISODES, TARGET
from report import check_experiments, check_minimums, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.core import configure_cpu
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import replaces_best, resolve_config


def train_then_test(
    name: str, seed: int, overrides: dict[str, str], max_episodes: int | None
) -> dict:
    """One seed: train to its stop (see the module docstring), then one test."""
    torch.set_num_threads(1)
    configure_cpu()
    experiment = get_experiment(name)
    config = resolve_config(experiment, {**overrides, "seed": str(seed)})
    torch.manual_seed(config.seed)  # as Run.make_trainer
    trainer = experiment.make_trainer(config)
    end = {"iteration": 0, "episodes": 0, "training_s": 0.0, "stop": "budget"}
    kept, best, seconds = trainer.params(), -math.inf, 0.0
    while not trainer.finished():
        started = time.perf_counter()
        metrics = trainer.train_step()
        if max_episodes is not None and trainer.episodes > max_episodes:
            break
        seconds += time.perf_counter() - started
        score = metrics[trainer.score_key]
        if replaces_best(trainer, score, best):
            kept, best = trainer.params(), max(score, best)
        end = {"iteration": trainer.iteration, "episodes": trainer.episodes}
        end |= {"training_s": round(seconds, 1), "stop": "budget"}
    else:
        end["stop"] = "own criterion" if trainer.progress < trainer.budget else "budget"
    returns, _ = trainer.evaluate(kept, config.eval.episodes, config.eval.env_seed)
    return {**end, "test_mean": float(returns.mean()), "test_std": float(returns.std())}


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="cartpole-snn-stdprl-evol")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1")
    parser.add_argument(
        "--max-episodes", type=int, help="end a seed at its last iteration within this"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at a time")
    args = parser.parse_args()
    check_minimums(parser, args, seeds=1, jobs=1, max_episodes=1)
    overrides, (config,) = check_experiments(parser, [args.experiment], args.overrides)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        ends = list(
            pool.map(
                train_then_test,
                [args.experiment] * args.seeds,
                range(args.seeds),
                [overrides] * args.seeds,
                [args.max_episodes] * args.seeds,
            )
        )
    sets = "".join(f" --set {pair}" for pair in args.overrides)
    budget = f", at most {args.max_episodes} episodes" if args.max_episodes else ""
    lines = [
        provenance(),
        "",
        f"`neurorl train {args.experiment}{sets}` per seed in-process, {args.jobs} at a time, "
        f"to its own stop{budget}; then one test ({config.eval.episodes} episodes from env "
        f"seed {config.eval.env_seed}) of the policy the run keeps. Episodes: every one "
        f"played in training, validation included. The paper's {PAPER_EPISODES:,} episodes "
        "are its whole budget (its test after them), not its episodes to a target.",
        "",
        "| seed | stopped by | iteration | training episodes | share of the paper's budget "
        "| training s | test mean ± std |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, end in enumerate(ends):
        lines.append(
            f"| {seed} | {end['stop']} | {end['iteration']} | {end['episodes']} | "
            f"{end['episodes'] / PAPER_EPISODES:.1%} | {end['training_s']:.0f} | "
            f"{end['test_mean']:.1f} ± {end['test_std']:.1f} |"
        )
    reached = sum(end["test_mean"] >= TARGET for end in ends)
    lines += ["", f"A test >= {TARGET:.0f} on {reached} of {len(ends)} seeds."]
    body = "\n".join(lines)
    print(body)
    run = " ".join([args.experiment, *args.overrides])
    run += f", within {args.max_episodes} episodes" if args.max_episodes else ""
    print(write_section(f"Haşegan 2022 network: held-out test, {run}", body))


if __name__ == "__main__":
    main()
