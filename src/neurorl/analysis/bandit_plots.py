"""Figures and the table of the bandit study (``bandit-neuromod``): cumulative regret per
agent, regret aligned to switches, the learning-rate and temperature traces around switches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from neurorl.analysis.plots import save_figure
from neurorl.envs.bandits import BanditSetting
from neurorl.files import atomic_write_bytes


def format_p(value: float) -> str:
    """A p-value; below 1e-15 (where scipy's may read 0) as a bound."""
    return "< 1e-15" if value < 1e-15 else f"{value:.2g}"


def study_table(stats: dict[str, Any], references: Sequence[str]) -> str:
    """Markdown: every agent's final cumulative regret (mean, sd) and Tukey HSD p-values against
    each reference, sorted by mean regret; the ANOVA in the caption."""
    names = sorted(
        (key.removeprefix("regret_") for key in stats if key.startswith("regret_")),
        key=lambda name: stats[f"regret_{name}"],
    )
    names = [n for n in names if not n.startswith("sd_")]
    header = "| agent | final regret (mean +- sd) | " + " | ".join(
        f"Tukey p vs {ref}" for ref in references
    )
    lines = [header + " |", "|---" * (2 + len(references)) + "|"]
    for name in names:
        cells = [format_p(stats["tukey"][ref][name]) if ref != name else "-" for ref in references]
        regret = f"{stats[f'regret_{name}']:,.0f} +- {stats[f'regret_sd_{name}']:,.0f}"
        lines.append(f"| {name} | {regret} | " + " | ".join(cells) + " |")
    seeds = stats["test_seeds"]
    lines.append(
        f"\nOne-way ANOVA over the agents: F = {stats['anova_F']:.1f}, "
        f"p = {format_p(stats['anova_p'])};"
        f" test seeds {seeds[0]}-{seeds[1]}, tuning seeds {stats['tuning_seeds'][0]}-"
        f"{stats['tuning_seeds'][1]}."
    )
    return "\n".join(lines) + "\n"


def plot_study(
    folder: Path,
    traces: dict[str, Any],
    stats: dict[str, Any],
    setting: BanditSetting,
    references: Sequence[str],
) -> list[Path]:
    """``cumulative_regret.png``, ``switch_regret.png``, ``switch_signals.png`` and
    ``study.md`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    # one colour per agent, the same in every figure (up to 20 agents)
    colours = dict(zip(traces, plt.get_cmap("tab20").colors, strict=False))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, trace in traces.items():
        width = 2 if name in references else 1
        ax.plot(np.cumsum(trace.mean_regret), label=name, lw=width, color=colours.get(name))
    for block in range(1, setting.blocks):
        ax.axvline(block * setting.block_length, color="grey", lw=0.3)
    ax.set_xlabel("step")
    ax.set_ylabel("cumulative regret (mean over seeds)")
    ax.set_yscale("log")
    ax.legend(fontsize=7, ncol=2)
    paths.append(save_figure(fig, folder / "cumulative_regret.png"))

    window = len(next(iter(traces.values())).aligned.get("regret", [0, 0])) // 2
    offsets = np.arange(-window, window)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, trace in traces.items():
        if "regret" in trace.aligned:
            width = 2 if name in references else 1
            ax.plot(offsets, trace.aligned["regret"], label=name, lw=width, color=colours.get(name))
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel("steps from a switch")
    ax.set_ylabel("regret per step (mean over switches)")
    ax.legend(fontsize=7, ncol=2)
    paths.append(save_figure(fig, folder / "switch_regret.png"))

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, signal in zip(axes, ("learning_rate", "temperature"), strict=True):
        for name, trace in traces.items():
            if signal in trace.aligned and np.ptp(trace.aligned[signal]) > 0:
                ax.plot(offsets, trace.aligned[signal], label=name, color=colours.get(name))
        ax.axvline(0, color="black", lw=0.5)
        ax.set_yscale("log")
        ax.set_xlabel("steps from a switch")
        ax.set_title(signal.replace("_", " ") + " (mean over switches)")
        ax.legend(fontsize=7)
    paths.append(save_figure(fig, folder / "switch_signals.png"))

    table = folder / "study.md"
    text = study_table(stats, references)
    atomic_write_bytes(table, lambda file: file.write(text.encode()))
    return [*paths, table]
