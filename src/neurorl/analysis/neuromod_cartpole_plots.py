"""Figures of ``cartpole-neuromod``: each agent's return over the run (median and quartiles
over seeds, switches marked) and its acetylcholine, plasticity-rate and action-temperature
traces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from neurorl.analysis.plots import save_figure

COLOURS = {"modulated": "tab:red", "unmodulated": "tab:blue"}


def plot_switches(
    folder: Path, runs: dict[str, Any], stats: dict[str, Any], world: Any
) -> list[Path]:
    """``switches.png`` in ``folder``: return, ACh, plasticity rate and temperature per
    episode (``runs``:
    ``{agent: Run}`` with ``[episodes, seeds]`` arrays)."""
    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(4, 1, figsize=(8, 10), sharex=True)
    episodes = np.arange(world.episodes)
    for name, run in runs.items():
        colour = COLOURS.get(name)
        q1, median, q3 = np.percentile(run.returns, [25, 50, 75], axis=1)
        label = (
            f"{name}: re-adapts in {stats[f'readapt_median_{name}']:.0f} episodes (median; "
            f"IQR {stats[f'readapt_q1_{name}']:.0f}-{stats[f'readapt_q3_{name}']:.0f})"
        )
        axes[0].plot(episodes, median, color=colour, label=label)
        axes[0].fill_between(episodes, q1, q3, color=colour, alpha=0.2, lw=0)
        axes[1].plot(episodes, run.acetylcholine.mean(1), color=colour, label=name)
        axes[2].plot(episodes, run.rate.mean(1), color=colour, label=name)
        axes[3].plot(episodes, run.temperature.mean(1), color=colour, label=name)
    for ax in axes:
        for block in range(1, world.blocks):
            ax.axvline(block * world.episodes_per_block, color="grey", lw=0.5)
    seeds = stats["test_seeds"]
    axes[0].set_ylabel("return (median, IQR)")
    axes[0].set_title(
        f"{'pole half length (m)' if world.parameter == 'length' else 'gravity (m/s^2)'} "
        f"{' <-> '.join(f'{v:g}' for v in world.values)} every "
        f"{world.episodes_per_block} episodes; test seeds {seeds[0]}-{seeds[1]}",
        fontsize=9,
    )
    axes[0].legend(fontsize=7, loc="lower right")
    axes[1].set_ylabel("ACh E/(E+A)\n(mean over seeds)")
    axes[1].legend(fontsize=7)
    axes[2].set_ylabel("plasticity rate\n(ACh where modulated)")
    axes[3].set_ylabel("action temperature\n(NA where modulated)")
    axes[3].set_xlabel("episode")
    return [save_figure(fig, folder / "switches.png")]
