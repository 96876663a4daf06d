"""Figures of Li, Kreiman & Ramanathan 2024 for the simulated worm plate.

- Policy maps: a 9 x 9 grid of worm positions relative to the target; in each cell, a heat
  map of P(light on) over the body angle relative to the direction of the target (x) and the
  head angle relative to the body (y), in 10-degree bins. The observation of a cell holds
  the same frame 15 times (a worm that has held still in that pose: the map shows the
  policy's dependence on pose and place, not on motion).
- Cross-evaluation: each line's agent on every line's worms (success rates as a matrix).
- Controls: the agent against light always off and against random light at the agent's own
  on-rate (each decision on with that probability), on the same plates (fresh worms and
  targets from one seed); box plots of time to target per line, failures at the episode
  length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from neurorl.envs.worm.plate import Episodes, PlateConfig, quantise, run_episodes

Act = Callable[[np.ndarray], np.ndarray]  # obs [B, obs_dim] -> light [B]
GRID = 9
HEAD_RANGE_DEG = 90.0


def policy_map(
    probability: Act,
    env: PlateConfig,
    grid: int = GRID,
    span_cm: float = 1.6,
    bin_deg: float = 10.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(P [grid, grid, head bins, body bins], positions_cm [grid], body_deg, head_deg)``:
    rows of the grid run from +y (top) to -y, columns from -x to +x."""
    positions = np.linspace(-span_cm, span_cm, grid)
    body = np.arange(-180.0, 180.0, bin_deg) + bin_deg / 2
    head = np.arange(-HEAD_RANGE_DEG, HEAD_RANGE_DEG, bin_deg) + bin_deg / 2
    gy, gx, gh, gb = np.meshgrid(positions[::-1], positions, head, body, indexing="ij")
    to_target = np.arctan2(-gy, -gx)
    body_abs = quantise(to_target + np.deg2rad(gb), env.angle_bin_deg)
    head_abs = quantise(to_target + np.deg2rad(gb + gh), env.angle_bin_deg)
    frame = np.stack(
        [
            np.sin(body_abs),
            np.cos(body_abs),
            np.sin(head_abs),
            np.cos(head_abs),
            gx / env.position_scale_cm,
            gy / env.position_scale_cm,
        ],
        axis=-1,
    ).reshape(-1, 6)
    obs = np.tile(frame, (1, env.history)).astype(np.float32)
    p = probability(obs).reshape(grid, grid, len(head), len(body))
    return p, positions, body, head


def policy_map_figure(probability: Act, env: PlateConfig, path: Path) -> Path:
    """The 9 x 9 policy map as one PNG (colours centred on 0.5, spanning the policy's own
    range: SAC's entropy target keeps its probabilities near 0.5)."""
    p, positions, body, head = policy_map(probability, env)
    fig, axes = plt.subplots(GRID, GRID, figsize=(12, 12), sharex=True, sharey=True)
    extent = (body[0] - 5, body[-1] + 5, head[0] - 5, head[-1] + 5)
    spread = max(float(np.abs(p - 0.5).max()), 1e-3)
    for row in range(GRID):
        for col in range(GRID):
            ax = axes[row, col]
            image = ax.imshow(
                p[row, col],
                origin="lower",
                extent=extent,
                aspect="auto",
                vmin=0.5 - spread,
                vmax=0.5 + spread,
                cmap="coolwarm",
            )
            ax.set_xticks([-180, 0, 180])
            ax.set_yticks([-90, 0, 90])
            ax.tick_params(labelsize=5)
            if row == GRID - 1:
                ax.set_xlabel(f"x {positions[col]:+.1f} cm", fontsize=6)
            if col == 0:
                ax.set_ylabel(f"y {positions[::-1][row]:+.1f} cm", fontsize=6)
    fig.suptitle(
        f"P(light on), line {env.line}: body angle to target (x, deg) x head angle to body "
        "(y, deg), per position relative to the target"
    )
    fig.colorbar(image, ax=axes, shrink=0.6)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class Comparison:
    """The agent and its two controls on the same plates."""

    agent: Episodes
    light_off: Episodes
    random_matched: Episodes
    on_rate: float


def compare_with_controls(env: PlateConfig, act: Act, episodes: int, seed: int) -> Comparison:
    """Agent, light always off, and random light at the agent's on-rate, on the plates of
    ``seed`` (the same worms' starting states and targets for all three)."""
    agent = run_episodes(env, lambda obs, rng: act(obs), episodes, seed)
    on_rate = float(agent.light_on.mean())
    off = run_episodes(env, lambda obs, rng: np.zeros(len(obs), bool), episodes, seed)
    matched = run_episodes(env, lambda obs, rng: rng.random(len(obs)) < on_rate, episodes, seed)
    return Comparison(agent, off, matched, on_rate)


def controls_figure(
    envs: dict[str, PlateConfig],
    acts: dict[str, Act],
    episodes: int,
    seed: int,
    path: Path,
    comparisons: dict[str, Comparison] | None = None,
) -> Path:
    """Box plots of time to target per line: agent, light off, random at the matched rate."""
    comparisons = comparisons or {
        line: compare_with_controls(envs[line], acts[line], episodes, seed) for line in envs
    }
    fig, ax = plt.subplots(figsize=(max(5, 2.2 * len(comparisons)), 4))
    colours = ("tab:red", "tab:gray", "tab:blue")
    labels = ("agent", "light off", "random, matched rate")
    for i, (line, result) in enumerate(comparisons.items()):
        censor = envs[line].episode_seconds
        groups = (result.agent, result.light_off, result.random_matched)
        data = [np.minimum(g.time_to_target, censor) for g in groups]
        box = ax.boxplot(
            data, positions=[4 * i, 4 * i + 1, 4 * i + 2], widths=0.8, patch_artist=True
        )
        for patch, colour in zip(box["boxes"], colours, strict=True):
            patch.set_facecolor(colour)
    ax.set_xticks([4 * i + 1 for i in range(len(comparisons))], list(comparisons))
    ax.set_ylabel("time to target (s; failures at the episode length)")
    ax.legend(
        [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours],
        labels,
        fontsize=7,
        loc="lower right",
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def cross_evaluation_figure(success: np.ndarray, lines: list[str], path: Path) -> Path:
    """Success rates ``[agents, worms]``: row = the line an agent was trained on, column =
    the line whose worms it drives."""
    fig, ax = plt.subplots(figsize=(1.1 * len(lines) + 2, 1.0 * len(lines) + 1.5))
    image = ax.imshow(success, vmin=0, vmax=1, cmap="viridis")
    for (row, col), value in np.ndenumerate(success):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white")
    ax.set_xticks(range(len(lines)), lines, rotation=45)
    ax.set_yticks(range(len(lines)), lines)
    ax.set_xlabel("worms of line")
    ax.set_ylabel("agent trained on line")
    fig.colorbar(image, ax=ax, label="success within 600 s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
