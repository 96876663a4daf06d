"""``neurorl compare``: several experiments on the same seeds -> one table and one figure."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from neurorl.analysis.plots import load_metrics, plot_comparison
from neurorl.distributed.ray_runs import IN_PROCESS, Cluster, RunRequest, train_on_ray
from neurorl.errors import NeurorlError
from neurorl.experiments.checkpoint import atomic_write_text
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import (
    Run,
    create_run,
    open_run,
    resolve_config,
    train,
    train_seeds,
    training_owner,
)
from neurorl.learn.rollout import random_policy_returns


def finished(folder: Path) -> bool:
    """Whether the run in ``folder`` trained to its end: its results.json holds the training
    summary that only the end of training writes (``neurorl eval`` on a run that stopped
    early writes a test without it)."""
    try:
        return bool(json.loads((folder / "results.json").read_text()).get("train"))
    except (OSError, ValueError, AttributeError):
        return False


def _runs_with_config(out: Path, name: str, config: Any) -> Iterator[Run]:
    """The runs of ``name`` under ``out`` with exactly this resolved config (not one whose
    config.yaml lacks keys or cannot be read: what it was trained with is not known)."""
    for folder in sorted((out / name).glob(f"*-seed{config.seed}*")):
        try:
            run = open_run(folder)
        except Exception:  # an unreadable folder is simply not reused
            continue
        if run.config == config:
            yield run


def find_finished_run(out: Path, name: str, config: Any) -> Path | None:
    """A :func:`finished` run of ``name`` under ``out`` with exactly this resolved config."""
    return next((r.path for r in _runs_with_config(out, name, config) if finished(r.path)), None)


def find_unfinished_run(out: Path, name: str, config: Any) -> Run | None:
    """A run of ``name`` under ``out`` with exactly this resolved config that stopped before
    its end (a checkpoint to resume from, not :func:`finished`) and that no process trains
    now."""
    for run in _runs_with_config(out, name, config):
        resumable = run.latest.exists() and not finished(run.path)
        if resumable and training_owner(run) is None:
            return run
    return None


def finished_runs(
    requests: list[RunRequest], out: Path, quiet: bool, cluster: Cluster = IN_PROCESS
) -> list[Path]:
    """A run folder per request: a finished run under ``out`` with exactly the request's
    resolved config if there is one, else one that stopped early resumed (in this process),
    else a new run, trained on ``cluster`` or in this
    process: the seeds of one config together as one batch where the experiment has one
    (``runner.train_seeds``), other runs one after another; requests with the same resolved
    config share one run. Unless ``quiet``, each label is announced on stderr with "training"
    or "reusing"."""
    paths: list[Path | None] = []
    batches: dict[str, list[int]] = {}  # runs to train in this process, by config but seed
    first: dict[str, int] = {}  # each distinct (experiment, config): its first request
    copies: dict[int, int] = {}  # a request whose run is an earlier request's: that index
    resumes: dict[int, Run] = {}  # runs of the request's config that stopped early
    for index, request in enumerate(requests):
        experiment = get_experiment(request.name)
        config = resolve_config(experiment, request.overrides)
        earlier = first.setdefault(repr((request.name, config)), index)
        if earlier != index:
            copies[index] = earlier
            paths.append(None)
            continue
        paths.append(find_finished_run(out, request.name, config))
        unfinished = None if paths[-1] else find_unfinished_run(out, request.name, config)
        if unfinished is not None:
            resumes[index] = unfinished
        if not quiet:
            doing = "reusing" if paths[-1] else "resuming" if unfinished else "training"
            print(f"{request.label}: {doing}", file=sys.stderr)
        if paths[-1] is None and unfinished is None and cluster.in_process:
            batched = experiment.make_batch is not None
            key = repr((request.name, dataclasses.replace(config, seed=0))) if batched else index
            batches.setdefault(str(key), []).append(index)
    for index, run in resumes.items():  # in this process, each alone
        paths[index] = train(run, quiet, resume=True)
    for indices in batches.values():
        runs = [create_run(requests[i].name, requests[i].overrides, out) for i in indices]
        trained = train_seeds(runs, quiet) if len(runs) > 1 else [train(runs[0], quiet)]
        for index, path in zip(indices, trained, strict=True):
            paths[index] = path
    todo = [i for i, path in enumerate(paths) if path is None and i not in copies]
    if todo:
        trained = train_on_ray([requests[index] for index in todo], out, cluster, quiet)
        for index, path in zip(todo, trained, strict=True):
            paths[index] = path
    for index, earlier in copies.items():
        paths[index] = paths[earlier]
    return [path for path in paths if path is not None]


def overrides_for(name: str, names: list[str], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides of experiment ``name``: plain keys apply to every experiment, keys written
    ``NAME:key`` only to experiment NAME (experiments rarely share all their keys)."""
    chosen = {}
    for key, value in overrides.items():
        target, sep, leaf = key.rpartition(":")
        if sep and target not in names:
            raise NeurorlError(f"--set {key}: '{target}' is not one of the compared experiments")
        if not sep or target == name:
            chosen[leaf] = value
    return chosen


def compare(
    names: list[str],
    seeds: int,
    overrides: dict[str, Any],
    out: Path,
    quiet: bool,
    cluster: Cluster = IN_PROCESS,
) -> Path:
    """Train (or reuse) ``seeds`` runs per experiment, in this process or on ``cluster``;
    write comparison.md and comparison.png."""
    if seeds < 1:
        raise NeurorlError(f"--seeds must be >= 1, got {seeds}")
    if len(set(names)) < len(names):
        raise NeurorlError("an experiment is named twice; name each once")
    requests = []
    for name in names:
        experiment = get_experiment(name)
        own = overrides_for(experiment.name, names, overrides)
        resolve_config(experiment, own)  # a bad --set fails before anything is trained
        requests += [
            RunRequest(experiment.name, {**own, "seed": str(seed)}, f"{name} seed {seed}")
            for seed in range(seeds)
        ]
    paths = finished_runs(requests, out, quiet, cluster)
    runs = {name: paths[i * seeds : (i + 1) * seeds] for i, name in enumerate(names)}
    folder = out / "compare" / f"{'+'.join(names)}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = {name: returns_by_seed(paths) for name, paths in runs.items()}
    first = open_run(next(iter(runs.values()))[0])
    rows.update(baselines(runs, first.config))
    lines = [
        f"# Comparison over seeds 0..{seeds - 1}",
        "",
        "| experiment | seeds | mean | std | median | per seed (test mean return) "
        "| best training score (mean over seeds) | env steps (mean) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        means = row["means"]
        per_seed = ", ".join(f"{m:.1f}" for m in means)
        lines.append(
            f"| {name} | {len(means)} | {means.mean():.1f} | {means.std():.1f} | "
            f"{np.median(means):.1f} | {per_seed} | {row['score']} | {row['steps']} |"
        )
    lines += [
        "",
        f"Test: {first.config.eval.episodes} episodes from env seed {first.config.eval.env_seed}, "
        "best checkpoint of each run; the untrained network is each run's initial policy, the "
        "random policy draws uniform actions (one action stream per seed). Best training score: "
        "the best value of each run's score (STDP-RL: average steps of the last 100 training "
        "episodes; evolution: the centre's return) over training.",
        "",
    ]
    lines += ["Runs:", *[f"- {path}" for paths in runs.values() for path in paths], ""]
    atomic_write_text(folder / "comparison.md", "\n".join(lines))
    curves = {name: [load_metrics(path) for path in paths] for name, paths in runs.items()}
    plot_comparison(curves, folder / "comparison.png")
    return folder


def returns_by_seed(paths: list[Path]) -> dict[str, Any]:
    results = [json.loads((path / "results.json").read_text()) for path in paths]
    train_info = [r["train"] for r in results]
    scores = [t["best_score"] for t in train_info if t.get("best_score") is not None]
    score = f"{np.mean(scores):.1f} ({train_info[0]['score']})" if scores else "-"
    return {
        "means": np.array([r["eval"]["mean_return"] for r in results]),
        "score": score,
        "steps": f"{np.mean([t.get('env_steps', 0) for t in train_info]):.0f}",
    }


def baselines(runs: dict[str, list[Path]], config: Any) -> dict[str, dict]:
    """The untrained policy of every run (one row per experiment, or one row for experiments
    whose untrained policies perform identically, e.g. two learning rules on one network) and
    a uniformly random policy, on ``config``'s test (env, episodes, env seed and the time
    limit of experiments that replace the env's own)."""
    episodes, env_seed = config.eval.episodes, config.eval.env_seed
    limit = getattr(config, "max_episode_steps", None)
    untrained: dict[tuple[float, ...], list[str]] = {}
    for name, paths in runs.items():
        means = []
        for path in paths:
            trainer = open_run(path).make_trainer()
            returns, _ = trainer.evaluate(trainer.params(), episodes, env_seed)
            means.append(float(np.mean(returns)))
        untrained.setdefault(tuple(means), []).append(name)
    seeds = max(len(paths) for paths in runs.values())
    rows = {
        f"untrained ({', '.join(names)})": {"means": np.array(means), "score": "-", "steps": "0"}
        for means, names in untrained.items()
    }
    random = [
        random_policy_returns(config.env_id, episodes, env_seed, s, limit).mean()
        for s in range(seeds)
    ]
    rows["random policy"] = {"means": np.array(random), "score": "-", "steps": "0"}
    return rows
