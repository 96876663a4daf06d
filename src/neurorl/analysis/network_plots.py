"""Diagnostics of the Haşegan et al. 2022 CartPole network: what it does before and after
training.

``record_episodes`` plays a few test episodes with one weight vector (plasticity off, the
network state carried across windows as in training) and keeps every spike of the first
episode; ``plot_network_diagnostics`` draws, for the untrained and the trained weights:

- ``raster.png``: the spike raster of the first test episode's first seconds, by population;
- ``population_rates.png``: each population's rate (Hz) in every 50-ms window of it;
- ``weights.png``: the plastic ES->EA and EA->EM weight matrices (mV);
- ``actions.png``: LEFT, RIGHT and unknown moves in each test episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from neurorl.analysis.plots import save_figure
from neurorl.core.decoders import spike_count_vote
from neurorl.learn.rollout import make_vector_env
from neurorl.nets.cartpole_network import POPULATIONS, run_window
from neurorl.nets.cartpole_policy import PaperNetworkPolicy

RASTER_SECONDS = 5.0


@dataclass
class Recording:
    """spikes ``[T, 200]`` (bool) of the first episode, one row per time step of dt;
    actions ``[episodes, 3]``: LEFT, RIGHT and unknown moves per episode; returns
    ``[episodes]``."""

    spikes: np.ndarray
    actions: np.ndarray
    returns: np.ndarray


@torch.no_grad()
def record_episodes(
    policy: PaperNetworkPolicy, params: Tensor, env_id: str, episodes: int, env_seed: int
) -> Recording:
    """Play ``episodes`` episodes from the test's initial states (drawn from ``env_seed``) as
    one batch."""
    generator = torch.Generator().manual_seed(env_seed + 4)
    env = make_vector_env(env_id, episodes)
    try:
        obs, _ = env.reset(seed=env_seed)
        params = params[None].to(policy.initial.ea_em.device)
        state, weights = policy.start(params, episodes)
        compile = policy.compile_mode(params.device)  # the same spikes as uncompiled
        alive = np.ones(episodes, dtype=bool)
        actions = np.zeros((episodes, 3), dtype=np.int64)
        returns = np.zeros(episodes)
        first: list[np.ndarray] = []
        while alive.any():
            x = torch.as_tensor(obs, dtype=torch.float32, device=params.device)[None]
            out = run_window(x, state, policy.network, weights, record=True, compile=compile)
            state = out.state
            action, undecided = spike_count_vote(out.counts, 2, policy.tie, generator)
            move = np.where(undecided[0].cpu().numpy(), 2, action[0].cpu().numpy())
            actions[np.arange(episodes)[alive], move[alive]] += 1
            if alive[0]:
                first.append(out.spikes[:, 0, 0].bool().cpu().numpy())
            obs, reward, terminated, truncated, _ = env.step(action[0].cpu().numpy())
            returns += np.where(alive, reward, 0.0)
            alive &= ~(terminated | truncated)
    finally:
        env.close()
    return Recording(np.concatenate(first), actions, returns)


def plot_network_diagnostics(
    out: Path,
    policy: PaperNetworkPolicy,
    params: dict[str, Tensor],
    env_id: str,
    episodes: int,
    env_seed: int,
) -> list[Path]:
    """The four figures of the module docstring; ``params`` maps a label (``untrained``,
    ``trained``) to a weight vector."""
    out.mkdir(parents=True, exist_ok=True)
    recordings = {
        label: record_episodes(policy, p, env_id, episodes, env_seed) for label, p in params.items()
    }
    config = policy.network.config
    slices = policy.network.slices
    colors = dict(zip(POPULATIONS, plt.cm.tab10.colors, strict=False))
    paths = []

    fig, axes = plt.subplots(1, len(params), figsize=(6 * len(params), 5), squeeze=False)
    for ax, (label, rec) in zip(axes[0], recordings.items(), strict=True):
        steps = min(len(rec.spikes), round(RASTER_SECONDS * 1000 / config.dt_ms))
        for name in POPULATIONS:
            t, n = np.nonzero(rec.spikes[:steps, slices[name]])
            ax.scatter(
                t * config.dt_ms / 1000, n + slices[name].start, s=1.5, color=colors[name],
                label=name,
            )  # fmt: skip
        ax.set_xlabel("time (s)")
        ax.set_ylabel("neuron")
        ax.set_title(f"{label}: first test episode ({int(rec.returns[0])} steps)")
        ax.set_ylim(-1, policy.network.num_neurons)
    axes[0, -1].legend(markerscale=6, loc="upper right", fontsize=7)
    paths.append(save_figure(fig, out / "raster.png", dpi=110))

    window = config.steps
    fig, axes = plt.subplots(1, len(params), figsize=(6 * len(params), 4), squeeze=False)
    for ax, (label, rec) in zip(axes[0], recordings.items(), strict=True):
        windows = len(rec.spikes) // window
        for name in POPULATIONS:
            cells = rec.spikes[: windows * window, slices[name]]
            count = cells.reshape(windows, window, -1).sum((1, 2))
            rate = count / cells.shape[1] / (config.window_ms / 1000)
            ax.plot(np.arange(windows) * config.window_ms / 1000, rate, label=name,
                    color=colors[name])  # fmt: skip
        ax.set_xlabel("time in the first test episode (s)")
        ax.set_ylabel("population rate (Hz)")
        ax.set_title(label)
    axes[0, -1].legend(fontsize=7)
    paths.append(save_figure(fig, out / "population_rates.png", dpi=110))

    fig, axes = plt.subplots(2, len(params), figsize=(5 * len(params), 8), squeeze=False)
    device = policy.initial.ea_em.device
    dense = {label: policy.weights(p[None].to(device)) for label, p in params.items()}
    for row, projection in enumerate(("es_ea", "ea_em")):
        matrices = [getattr(w, projection)[0].cpu().numpy() for w in dense.values()]
        top = max(float(m.max()) for m in matrices)
        for col, (label, matrix) in enumerate(zip(dense, matrices, strict=True)):
            ax = axes[row, col]
            image = ax.imshow(matrix.T, aspect="auto", cmap="viridis", vmin=0, vmax=top)
            pre, post = projection.upper().split("_")
            ax.set_title(f"{label} {pre}->{post} (mV)")
            ax.set_xlabel(f"{pre} cell")
            ax.set_ylabel(f"{post} cell")
            fig.colorbar(image, ax=ax)
    paths.append(save_figure(fig, out / "weights.png", dpi=110))

    fig, axes = plt.subplots(1, len(params), figsize=(6 * len(params), 4), squeeze=False)
    for ax, (label, rec) in zip(axes[0], recordings.items(), strict=True):
        bottom = np.zeros(len(rec.actions))
        index = np.arange(len(rec.actions))
        for k, move in enumerate(("LEFT", "RIGHT", "unknown")):
            ax.bar(index, rec.actions[:, k], bottom=bottom, label=move)
            bottom += rec.actions[:, k]
        ax.set_xlabel(f"test episode (env seed {env_seed} + k)")
        ax.set_ylabel("moves")
        ax.set_title(label)
    axes[0, -1].legend()
    paths.append(save_figure(fig, out / "actions.png", dpi=110))
    return paths


DIAGNOSTIC_EPISODES = 5


def plot_trained_network(
    out: Path, policy: PaperNetworkPolicy, trained: Tensor, env_id: str, env_seed: int
) -> list[Path]:
    """The diagnostics of the untrained against the ``trained`` weights, on the first
    :data:`DIAGNOSTIC_EPISODES` test episodes (initial states from ``env_seed``)."""
    params = {"untrained": policy.initial_parameters(), "trained": trained}
    return plot_network_diagnostics(out, policy, params, env_id, DIAGNOSTIC_EPISODES, env_seed)
