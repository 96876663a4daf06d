"""Non-stationary bandits (Lee et al. 2024): the paper's comparison over 210 seeds with its
statistics, neurorl's adaptive agent against the tuned baselines, the spiking agents'
re-adaptation after switches, and the wall time of the whole comparison.

For each setting (the paper's main one, ``bandit-neuromod``, and its 2-arm ablation,
``bandit-neuromod-two-arm``): every tunable agent is grid-searched on the tuning seeds (the
experiment's ``tuning`` section, disjoint from the test's), then every agent plays the same
``--seeds`` test bandits from seed 42, once. Statistics: one-way ANOVA and Tukey's HSD
(``scipy.stats.tukey_hsd``) within two families, the paper's (its adaptive agent in both
forms, D-UCB in both forms, Boltzmann) and neurorl's (its agent, Boltzmann, textbook D-UCB,
SW-UCB), and over all agents (docs/lee2024/<setting>/study.md). The spiking agents (main
setting): tuned on ``--spiking-tuning-seeds`` tuning seeds, tested on ``--spiking-seeds``
test seeds; re-adaptation = steps after a switch until the best arm holds 80% of the last 20
pulls. Figures go to docs/lee2024/, the section to BENCHMARKS.md.

    python benchmarks/bandits.py [--seeds 210] [--settings main two-arm] [--tuning-seeds N]
        [--workers 1 2] [--spiking-seeds 20] [--spiking-tuning-seeds 10]

Each part writes its own section (main setting, 2-arm ablation, spiking agents). The main
study is timed once per ``--workers`` value; the ablation's with the largest.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np
import torch
from report import ROOT, check_minimums, main_with_one_line_errors, provenance, write_section

from neurorl.analysis.bandit_plots import format_p, plot_study
from neurorl.experiments.bandits import (
    SPIKING,
    BanditStudyConfig,
    BanditStudyTrainer,
    TuningConfig,
    play,
    readaptation,
    stats_table,
)
from neurorl.experiments.common import EvalConfig
from neurorl.experiments.registry import get_experiment

EXPERIMENTS = {"main": "bandit-neuromod", "two-arm": "bandit-neuromod-two-arm"}
PAPER_FAMILY = ("adaptive", "adaptive-code", "ducb", "ducb-code", "boltzmann")
NEURORL_FAMILY = ("neuromod", "boltzmann", "ducb", "swucb")
DOCS = ROOT / "docs" / "lee2024"
# Anchors of shared/design/papers/lee2024.md (measured there, not here).
PUBLIC_CODE_ADAPTIVE_CPU_S_PER_SEED = 125.0
SMPYBANDITS_S_PER_SETTING = 19 * 60.0  # 12 algorithms, 210 seeds


def family_table(finals: dict[str, np.ndarray], family: tuple[str, ...], against: str) -> str:
    """ANOVA over ``family`` and Tukey HSD p of each member against ``against``."""
    stats = stats_table({name: finals[name] for name in family}, [against])
    rows = [f"| agent | final regret mean +- sd (median) | Tukey p vs {against} |", "|---|---|---|"]
    for name in sorted(family, key=lambda n: finals[n].mean()):
        final = finals[name]
        p = "-" if name == against else format_p(stats["tukey"][against][name])
        rows.append(
            f"| {name} | {final.mean():,.0f} +- {final.std(ddof=1):,.0f} "
            f"({np.median(final):,.0f}) | {p} |"
        )
    anova = f"ANOVA F = {stats['anova_F']:.1f}, p = {format_p(stats['anova_p'])}"
    return "\n".join(rows) + f"\n\n{anova}.\n"


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished worker processes (user + system): what
    the work costs whatever else the machine runs."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def stats_free_hyper(trainer: BanditStudyTrainer, name: str) -> dict[str, float]:
    """The hyper-parameters that ``trainer`` holds for agent ``name``."""
    return trainer.hyper_of(trainer.params())[name]


def run_setting(
    setting: str, seeds: int, tuning_seeds: int | None, workers: tuple[int, ...]
) -> str:
    """Tune, test and plot one setting: its markdown."""
    config = get_experiment(EXPERIMENTS[setting]).default_config()
    tuning = config.tuning if tuning_seeds is None else TuningConfig(seeds=tuning_seeds)
    config = dataclasses.replace(
        config, eval=EvalConfig(episodes=seeds, env_seed=42), tuning=tuning
    )
    trainer = BanditStudyTrainer(config)
    started = time.perf_counter()
    while not trainer.finished():
        trainer.train_step()
    tuning_s = time.perf_counter() - started
    params = trainer.params()
    study_s, study_cpu_s = {}, {}
    for count in workers:  # the same study in 1 and in 2 processes: the same traces
        trainer.config, trainer._study = dataclasses.replace(config, workers=count), None
        started, cpu_started = time.perf_counter(), cpu_seconds()
        traces = trainer.study(params, seeds, 42)
        study_s[count] = time.perf_counter() - started
        study_cpu_s[count] = cpu_seconds() - cpu_started
    finals = {name: trace.final for name, trace in traces.items()}
    bandit = trainer.bandit(trainer.test_seeds(seeds, 42))
    adaptive = trainer.factory("adaptive-code", stats_free_hyper(trainer, "adaptive-code"))
    started = time.perf_counter()
    play(adaptive, bandit, config.window)
    adaptive_s = time.perf_counter() - started
    _, stats = trainer.evaluate(params, seeds, 42)
    plot_study(DOCS / setting, traces, stats, config.bandit, config.references)
    hyper = stats["hyper_parameters"]
    tuned = "; ".join(
        f"{name} " + ", ".join(f"{k} {v:g}" for k, v in hyper[name].items())
        for name in trainer.tuned
    )
    smpybandits_s = SMPYBANDITS_S_PER_SETTING * seeds / 210
    anchors = (  # both anchors were measured on the main setting only
        f"Anchors: the public code's adaptive agent ~{PUBLIC_CODE_ADAPTIVE_CPU_S_PER_SEED:.0f} "
        f"CPU s per seed ({PUBLIC_CODE_ADAPTIVE_CPU_S_PER_SEED * seeds / adaptive_s:,.0f}x this "
        f"one); SMPyBandits' 12 algorithms ~19 min for 210 seeds "
        f"({smpybandits_s / min(study_s.values()):.0f}x this comparison). "
        if setting == "main"
        else ""
    )
    timings = "; ".join(
        f"{s:.1f} s wall in {n} process{'es' if n > 1 else ''} ({study_cpu_s[n]:.1f} CPU s)"
        for n, s in study_s.items()
    )
    text = (
        f"### Setting `{setting}` ({config.bandit.arms} arms, {config.bandit.blocks} blocks x "
        f"{config.bandit.block_length} steps, switch probability "
        f"{config.bandit.switch_probability})\n\n"
        f"Test seeds 42-{41 + seeds}; tuning seeds {config.tuning.first_seed}-"
        f"{config.tuning.first_seed + config.tuning.seeds - 1}. Tuned: {tuned}.\n\n"
        f"The paper's comparison (its claim: adaptive below D-UCB at p < 0.01 and below "
        f"Boltzmann at p < 0.001):\n\n{family_table(finals, PAPER_FAMILY, 'adaptive-code')}\n"
        f"The same family against the text's form:\n\n"
        f"{family_table(finals, PAPER_FAMILY, 'adaptive')}\n"
        f"neurorl's agent against the tuned baselines (target: below each at p < 0.01):\n\n"
        f"{family_table(finals, NEURORL_FAMILY, 'neuromod')}\n"
        f"Wall time: tuning {tuning_s:.1f} s (one process); the whole {seeds}-seed comparison "
        f"of all {len(config.agents)} agents {timings}. The adaptive agent (code form) alone: "
        f"{adaptive_s:.2f} s for {seeds} seeds, {adaptive_s / seeds * 1e3:.0f} ms per seed. "
        f"{anchors}All agents: "
        f"`docs/lee2024/{setting}/study.md`.\n"
    )
    return text


def run_spiking(seeds: int, tuning_seeds: int) -> str:
    """The spiking agents, tuned on their own tuning seeds, on the main setting."""
    config = BanditStudyConfig(
        agents=SPIKING,
        headline="spiking",
        references=SPIKING,
        tuning=TuningConfig(seeds=tuning_seeds),
        eval=EvalConfig(episodes=seeds, env_seed=42),
    )
    trainer = BanditStudyTrainer(config)
    while not trainer.finished():
        trainer.train_step()
    hyper = trainer.hyper_of(trainer.params())
    bandit = trainer.bandit(trainer.test_seeds(seeds, 42))
    rows = [
        "| agent | steps to re-adapt after a switch: median (IQR) | never within the block "
        "| final regret mean +- sd |",
        "|---|---|---|---|",
    ]
    traces = trainer.study(trainer.params(), seeds, 42)
    for name in SPIKING:
        steps = readaptation(trainer.factory(name, hyper[name]), bandit)
        q1, q3 = np.percentile(steps, [25, 75])
        final = traces[name].final
        rows.append(
            f"| {name} | {np.median(steps):.0f} ({q1:.0f}-{q3:.0f}) over {len(steps)} switches "
            f"| {(steps >= config.bandit.block_length).mean():.0%} | {final.mean():,.0f} +- "
            f"{final.std(ddof=1):,.0f} |"
        )
    tuned = "; ".join(
        f"{n} " + ", ".join(f"{k} {v:g}" for k, v in hyper[n].items()) for n in SPIKING
    )
    return (
        f"### Spiking agents (main setting, test seeds 42-{41 + seeds}, tuning seeds "
        f"{config.tuning.first_seed}-{config.tuning.first_seed + tuning_seeds - 1})\n\n"
        f"Tuned: {tuned}.\n\n" + "\n".join(rows) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=210)
    parser.add_argument("--settings", nargs="+", choices=list(EXPERIMENTS), default=["main"])
    parser.add_argument("--tuning-seeds", type=int, help="default: the experiment's")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="processes of the main study"
    )
    parser.add_argument("--spiking-seeds", type=int, default=20)
    parser.add_argument("--spiking-tuning-seeds", type=int, default=10)
    args = parser.parse_args()
    check_minimums(
        parser, args, seeds=2, tuning_seeds=1, workers=1, spiking_seeds=0, spiking_tuning_seeds=1
    )
    torch.set_num_threads(1)
    for setting in args.settings:
        workers = tuple(args.workers) if setting == "main" else (max(args.workers),)
        text = run_setting(setting, args.seeds, args.tuning_seeds, workers)
        print(text)
        write_section(f"Non-stationary bandits (Lee 2024): {setting}", provenance() + "\n\n" + text)
    if args.spiking_seeds:
        text = run_spiking(args.spiking_seeds, args.spiking_tuning_seeds)
        print(text)
        write_section("Non-stationary bandits (Lee 2024): spiking", provenance() + "\n\n" + text)


if __name__ == "__main__":
    main_with_one_line_errors(main)
