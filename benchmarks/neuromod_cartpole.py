"""The neuromodulated spiking agent on the non-stationary CartPole (Lee 2024, issue 39's
spiking extension (b)): episodes to re-adapt after a switch, modulated against unmodulated.

Both agents of ``cartpole-neuromod`` are tuned on ``--tuning-seeds`` tuning seeds (from
100000, the experiment's ``tuning`` section), then played once on ``--seeds`` test seeds from
``--first-test-seed`` (the experiment's ``eval.env_seed``, 5000), as one batch. Episodes to
re-adapt: episodes after a switch until the mean return of the last 5 reaches 475 (block
length + 1 where it never does within the block). The table: median (IQR) over every switch of
every test seed, the share never re-adapted, the return over the 5 episodes before a switch
and of the first episode after it; a Wilcoxon signed-rank test on the per-seed mean episodes
to re-adapt (paired by seed). Figure: docs/lee2024/cartpole/.

    python benchmarks/neuromod_cartpole.py [--seeds 10] [--tuning-seeds 5] [--first-test-seed 5000]
        [--set KEY=VALUE ...]  (e.g. world.reward_noise=0.1: its own section and figure folder)
"""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import torch
from report import (
    ROOT,
    check_experiments,
    check_minimums,
    main_with_one_line_errors,
    provenance,
    write_section,
)

from neurorl.cli import OneLineParser
from neurorl.experiments.common import EvalConfig
from neurorl.experiments.neuromod_cartpole import (
    AGENT_NAMES,
    AGENTS,
    NeuromodCartPoleTrainer,
    TuningConfig,
    switch_episodes,
)

DOCS = ROOT / "docs" / "lee2024" / "cartpole"


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tuning-seeds", type=int, default=5)
    parser.add_argument("--first-test-seed", type=int, default=5000)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    check_minimums(parser, args, seeds=2, tuning_seeds=1, first_test_seed=0)
    _, (config,) = check_experiments(parser, ["cartpole-neuromod"], args.overrides)
    torch.set_num_threads(1)
    from scipy import stats as scipy_stats

    figures = (
        DOCS / re.sub(r"[^A-Za-z0-9.]+", "-", "_".join(args.overrides)) if args.overrides else DOCS
    )
    config = dataclasses.replace(
        config,
        eval=EvalConfig(episodes=args.seeds, env_seed=args.first_test_seed),
        tuning=TuningConfig(seeds=args.tuning_seeds),
    )
    trainer = NeuromodCartPoleTrainer(config)
    started = time.perf_counter()
    tuning = {}
    while not trainer.finished():
        name = AGENT_NAMES[trainer.iteration]
        tuning[name] = trainer.train_step()["tuning_episodes_to_readapt"]
    tuning_s = time.perf_counter() - started
    params = trainer.params()
    started = time.perf_counter()
    study = trainer.study(params, args.seeds, args.first_test_seed)
    test_s = time.perf_counter() - started
    _, stats = trainer.evaluate(params, args.seeds, args.first_test_seed)
    trainer.plots(figures, params)
    world = config.world
    rows = [
        "| agent | switches | episodes to re-adapt: median (IQR) | never within the block | "
        "return: 5 episodes before a switch / first after | first return after a switch that "
        "found it converged (switches) |",
        "|---|---|---|---|---|---|",
    ]
    arriving = sorted({world.value(e) for e in switch_episodes(world)})
    for name in AGENT_NAMES:
        for label, suffix in [("all", name)] + [
            (f"to {value:g}", f"{name}_to_{value:g}") for value in arriving
        ]:
            rows.append(
                f"| {name} | {label} ({stats[f'switches_{suffix}']}) | "
                f"{stats[f'readapt_median_{suffix}']:.0f} "
                f"({stats[f'readapt_q1_{suffix}']:.0f}-{stats[f'readapt_q3_{suffix}']:.0f}) | "
                f"{stats[f'never_share_{suffix}']:.0%} | "
                f"{stats[f'return_before_switch_{suffix}']:.0f} / "
                f"{stats[f'return_after_switch_{suffix}']:.0f} | "
                f"{stats[f'return_after_converged_switch_{suffix}']:.0f} "
                f"({stats[f'converged_switches_{suffix}']}) |"
            )
    means = ", ".join(f"{name} {stats[f'mean_return_{name}']:.0f}" for name in AGENT_NAMES)
    per_seed = {name: study["readapt"][name].mean(0) for name in AGENT_NAMES}
    difference = per_seed["modulated"] - per_seed["unmodulated"]
    test = scipy_stats.wilcoxon(per_seed["modulated"], per_seed["unmodulated"])
    hyper = stats["hyper_parameters"]
    tuned = "; ".join(
        f"{name} "
        + ", ".join(f"{k} {v:g}" for k, v in hyper[name].items() if k in AGENTS[name].grid)
        for name in AGENT_NAMES
    )
    first, last = stats["tuning_seeds"]
    test_first, test_last = stats["test_seeds"]
    text = (
        f"Pole {'half length (m)' if world.parameter == 'length' else 'gravity (m/s^2)'} "
        f"{' <-> '.join(f'{v:g}' for v in world.values)}, "
        f"{world.blocks} blocks x {world.episodes_per_block} episodes "
        f"({world.blocks - 1} switches per seed), at most {world.max_episode_steps} steps per "
        f"episode. Features: order-{config.agent.order} Fourier basis of tanh(obs / scale), "
        f"scales (x, x', theta, theta') {config.agent.scales}. "
        f"Test seeds {test_first}-{test_last}; tuning seeds {first}-{last}, grids of "
        + " and ".join(
            f"{int(np.prod([len(v) for v in AGENTS[name].grid.values()]))} ({name})"
            for name in AGENT_NAMES
        )
        + f" combinations. Tuned: {tuned} (mean episodes to re-adapt on the tuning seeds: "
        + ", ".join(f"{name} {value:.1f}" for name, value in tuning.items())
        + ").\n\n"
        + "\n".join(rows)
        + "\n\n"
        f"Per-seed mean episodes to re-adapt, modulated - unmodulated: median "
        f"{np.median(difference):+.1f}, mean {difference.mean():+.1f}; Wilcoxon signed-rank "
        f"p = {test.pvalue:.2g} ({args.seeds} seeds, paired).\n\n"
        f"Mean return over the run: {means}. Agents: "
        + "; ".join(f"{name}: {AGENTS[name].description}" for name in AGENT_NAMES)
        + ".\n\n"
        f"Wall time: tuning {tuning_s:.0f} s (both grids, {args.tuning_seeds} seeds each, one "
        f"batch per agent); the test {test_s:.0f} s ({2 * args.seeds} lifelong runs, one batch). "
        f"Figure: `{figures.relative_to(ROOT)}/switches.png`.\n"
    )
    print(text)
    title = "Neuromodulated spiking CartPole (Lee 2024)"
    title += f" ({', '.join(args.overrides)})" if args.overrides else ""
    write_section(title, provenance() + "\n\n" + text)


if __name__ == "__main__":
    main_with_one_line_errors(main)
