"""Runs: the run folder, metrics, TensorBoard, atomic checkpoints, resume, evaluation, export.

Run folder ``<out>/<experiment>/<YYYYmmdd-HHMMSS>-seed<k>/``::

    config.yaml          the fully resolved config (and the experiment's name)
    metrics.csv          one row per iteration; identical for the same config and seed on CPU
    tensorboard/         TensorBoard event files of the same metrics
    checkpoints/         latest.pt (trainer state) and best.pt (the policy to test: the best
                         scored, or the last where the trainer ``keeps`` the last), written
                         atomically; iteration-N.pt: the trainer's ``snapshots``
    results.json         evaluation of the best policy (and of the snapshots) on fixed test
                         seeds
    plots/*.png          learning curve and the trainer's own plots of its policy
    policy.nir           the best spiking policy in NIR (spiking experiments only)

The runner knows a trainer only through :class:`~neurorl.experiments.trainer.Trainer`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from neurorl.config import apply_overrides, from_mapping, missing_keys, read_yaml, to_yaml
from neurorl.core import configure_cpu
from neurorl.errors import ConfigError, DivergedError, NeurorlError, NotExportableError
from neurorl.experiments.checkpoint import (
    atomic_write_text,
    load_checkpoint,
    save_checkpoint,
    write_json,
)
from neurorl.experiments.registry import Experiment, get_experiment
from neurorl.experiments.trainer import Trainer


@dataclass
class Run:
    """A run folder with its experiment, resolved config and trainer."""

    path: Path
    experiment: Experiment
    config: Any

    @property
    def latest(self) -> Path:
        return self.path / "checkpoints" / "latest.pt"

    @property
    def best(self) -> Path:
        return self.path / "checkpoints" / "best.pt"

    @property
    def lock(self) -> Path:
        return self.path / "training.lock"

    def snapshot(self, iteration: int) -> Path:
        return self.path / "checkpoints" / f"iteration-{iteration}.pt"

    def make_trainer(self) -> Trainer:
        check_device(self.config.device, "eval, plot and export take --device, e.g. --device cpu")
        torch.manual_seed(self.config.seed)
        return self.experiment.make_trainer(self.config)


def resolve_config(experiment: Experiment, overrides: dict[str, Any]) -> Any:
    return apply_overrides(experiment.default_config(), overrides)


def check_device(device: str, hint: str = "") -> None:
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        first_line = str(error).strip().splitlines()[0]
        message = f"device '{device}' is not usable here ({first_line})"
        raise ConfigError(f"{message}; {hint}" if hint else message) from None


def create_run(name: str, overrides: dict[str, Any], out: Path) -> Run:
    experiment = get_experiment(name)
    config = resolve_config(experiment, overrides)
    check_device(config.device)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / name).mkdir(parents=True, exist_ok=True)
    path, suffix = out / name / f"{stamp}-seed{config.seed}", 1
    while True:  # claimed by mkdir: runs created at once by other processes get other names
        try:
            path.mkdir()
            break
        except FileExistsError:
            suffix += 1
            path = out / name / f"{stamp}-seed{config.seed}-{suffix}"
    atomic_write_text(path / "config.yaml", f"experiment: {name}\n" + to_yaml(config))
    return Run(path, experiment, config)


def open_run(path: Path, device: str | None = None) -> Run:
    """An existing run folder; anything else is a clear error. ``device`` replaces the run's
    own (a run trained on a GPU evaluated, plotted or exported on a CPU)."""
    config_file = path / "config.yaml"
    if not path.is_dir():
        raise NeurorlError(f"run folder {path} does not exist")
    if not config_file.is_file():
        raise NeurorlError(f"{path} is not a neurorl run folder (no config.yaml)")
    data = read_yaml(config_file)
    if not isinstance(data, dict) or "experiment" not in data:
        raise NeurorlError(f"{config_file} does not name its experiment")
    experiment = get_experiment(str(data.pop("experiment")))
    default = experiment.default_config()
    missing = missing_keys(data, default)
    if missing:  # its settings are not known: evaluating it with today's defaults would mislead
        raise NeurorlError(
            f"{config_file} lacks {len(missing)} key(s) of {experiment.name} "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): it was written by "
            "another version of neurorl"
        )
    config = from_mapping(data, default, str(config_file))
    if device is not None:
        config = dataclasses.replace(config, device=device)
    return Run(path, experiment, config)


class MetricsLog:
    """metrics.csv (append, one row per iteration) mirrored to TensorBoard."""

    def __init__(self, run: Run, keep_rows: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.file = run.path / "metrics.csv"
        rows = read_metrics(self.file)[:keep_rows]
        self.columns: list[str] | None = list(rows[0]) if rows else None
        if rows or self.file.exists():
            self._rewrite(rows)
        self.writer = SummaryWriter(str(run.path / "tensorboard"), purge_step=keep_rows + 1)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        lines = [",".join(self.columns or [])] if rows else []
        lines += [",".join(row[c] for c in self.columns) for row in rows]
        atomic_write_text(self.file, "\n".join(lines) + ("\n" if lines else ""))

    def append(self, metrics: dict[str, float]) -> None:
        if self.columns is None:
            self.columns = list(metrics)
            self.file.write_text(",".join(self.columns) + "\n")
        missing = [column for column in self.columns if column not in metrics]
        if missing:  # a trainer's bug, said in one line rather than as a KeyError
            raise NeurorlError(
                f"metrics row {metrics.get('iteration')} lacks {', '.join(missing)}, which the "
                "first row had: a trainer's rows must share their keys"
            )
        with self.file.open("a") as file:
            file.write(",".join(_cell(metrics[c]) for c in self.columns) + "\n")
        step = int(metrics["iteration"])
        for key, value in metrics.items():
            if key != "iteration":
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


def _cell(value: float) -> str:
    """A metrics.csv cell: integers as integers, floats exactly (``repr``)."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(int(value))
    return repr(float(value))


def read_metrics(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open() as file:
        return list(csv.DictReader(file))


def training_owner(run: Run) -> str | None:
    """``host:pid`` of the process training ``run`` now, or None: no lock, or a lock left by
    a process of this host that is gone (one of another host is taken as alive)."""
    try:
        owner = run.lock.read_text().strip()
    except OSError:
        return None
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
    return owner


@contextlib.contextmanager
def training_lock(runs: list[Run]) -> Iterator[None]:
    """Held while this process trains ``runs``: another process that would train one of them
    too (a second ``--resume``, a reproduction resuming it) stops with one line instead."""
    taken: list[Path] = []
    try:
        for run in runs:
            _take_lock(run)
            taken.append(run.lock)
        yield
    finally:
        for lock in taken:
            lock.unlink(missing_ok=True)


def _take_lock(run: Run) -> None:
    """Create ``run.lock`` (exclusively: of two processes at once, one gets it), replacing
    one left by a process that is gone."""
    for _ in range(2):
        try:
            descriptor = os.open(run.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = training_owner(run)
            if owner is not None:
                raise NeurorlError(
                    f"run {run.path} is being trained by process {owner} (its training.lock; "
                    "remove that file if the process is gone)"
                ) from None
            run.lock.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{socket.gethostname()}:{os.getpid()}\n")
        return
    raise NeurorlError(f"could not take {run.lock}: another process took it first")


def train(run: Run, quiet: bool, resume: bool = False) -> Path:
    """Train until the experiment's budget or stop criterion; then evaluate, plot, export."""
    with training_lock([run]):
        return _train(run, quiet, resume)


def _train(run: Run, quiet: bool, resume: bool) -> Path:
    configure_cpu()
    trainer = run.make_trainer()
    best_score, wall_before = -math.inf, 0.0
    if resume:
        state = load_checkpoint(run.latest, run.config.device)
        trainer.load_state_dict(state["trainer"])
        best_score, wall_before = state["best_score"], state["wall_seconds"]
    else:
        _save_latest(run, trainer, best_score, 0.0)
    log = MetricsLog(run, keep_rows=trainer.iteration)
    started = time.perf_counter()
    show = not quiet and sys.stderr.isatty()
    progress = tqdm(
        total=trainer.budget,
        initial=trainer.progress,
        disable=not show,
        desc=run.experiment.name,
    )
    try:
        while not trainer.finished():
            metrics = trainer.train_step()
            wall = wall_before + time.perf_counter() - started
            best_score = record(run, trainer, log, metrics, best_score, wall)
            progress.update(trainer.progress - progress.n)
            progress.set_postfix({trainer.score_key: f"{metrics[trainer.score_key]:.1f}"})
    finally:
        progress.close()
        log.close()
    state = load_checkpoint(run.latest, run.config.device)
    finish(run, trainer, state["wall_seconds"], state["best_score"])
    return run.path


def record(
    run: Run,
    trainer: Trainer | Member,
    log: MetricsLog,
    metrics: dict[str, float],
    best_score: float,
    wall_seconds: float,
) -> float:
    """A train step's row into the run: checked finite (else :class:`DivergedError`, the last
    good checkpoint kept), logged, best.pt and latest.pt written. Returns the best score."""
    bad = [key for key, value in metrics.items() if not math.isfinite(value)]
    if bad or not trainer.parameters_finite():
        what = ", ".join(bad) if bad else "the parameters"
        raise DivergedError(
            f"training diverged at iteration {trainer.iteration} (NaN/inf in {what}); "
            f"stopped, last good checkpoint kept: {run.latest}"
        )
    score = metrics[trainer.score_key]
    counters = {key: getattr(trainer, key) for key in ("iteration", "env_steps", "episodes")}
    log.append({**counters, **metrics, "score": score})
    if replaces_best(trainer, score, best_score):
        best_score = max(score, best_score)
        save_checkpoint(
            run.best,
            {"params": trainer.params(), "iteration": trainer.iteration, "score": score},
        )
    if trainer.iteration in trainer.snapshots:
        save_checkpoint(
            run.snapshot(trainer.iteration),
            {"params": trainer.params(), "iteration": trainer.iteration, "score": score},
        )
    _save_latest(run, trainer, best_score, wall_seconds)
    return best_score


class Member:
    """Member ``index`` of a batch of seeds (``batch.advance()``, ``counters``,
    ``member_params``, ``member_state_dict``, ``stop``), seen as :func:`record` sees a
    trainer."""

    def __init__(self, batch: Any, index: int) -> None:
        self.batch, self.index = batch, index
        self.score_key, self.keeps = batch.score_key, batch.keeps
        self.snapshots = batch.snapshots

    @property
    def iteration(self) -> int:
        return self.batch.counters(self.index)[0]

    @property
    def env_steps(self) -> int:
        return self.batch.counters(self.index)[1]

    @property
    def episodes(self) -> int:
        return self.batch.counters(self.index)[2]

    def params(self) -> torch.Tensor:
        return self.batch.member_params(self.index)

    def parameters_finite(self) -> bool:
        return bool(torch.isfinite(self.params()).all())

    def state_dict(self) -> dict[str, Any]:
        return self.batch.member_state_dict(self.index)


def train_seeds(runs: list[Run], quiet: bool) -> list[Path]:
    """Train runs of one experiment and config that differ only in their seed as one batch
    (the experiment's ``make_batch``: K networks stepped as one tensor program). Each run
    folder is written as its own ``train`` writes it and resumes alone; the batch does not
    resume. A member that diverges stops (its last good checkpoint kept) and the others go
    on; its error is raised once they have finished."""
    with training_lock(runs):
        return _train_seeds(runs, quiet)


def _train_seeds(runs: list[Run], quiet: bool) -> list[Path]:
    configure_cpu()
    experiment, config = runs[0].experiment, runs[0].config
    if experiment.make_batch is None:
        raise ConfigError(f"{experiment.name} trains one seed at a time (no batch of seeds)")
    seeds = tuple(run.config.seed for run in runs)
    if any(dataclasses.replace(run.config, seed=config.seed) != config for run in runs):
        raise ConfigError("a batch of seeds shares one config but for the seed")
    check_device(config.device)
    torch.manual_seed(seeds[0])
    batch = experiment.make_batch(config, seeds)
    members = [Member(batch, k) for k in range(len(runs))]
    best = [-math.inf] * len(runs)
    for run, member in zip(runs, members, strict=True):
        _save_latest(run, member, -math.inf, 0.0)
    logs = [MetricsLog(run, keep_rows=0) for run in runs]
    errors: dict[int, str] = {}
    started = time.perf_counter()
    progress = tqdm(
        total=batch.budget, disable=quiet or not sys.stderr.isatty(), desc=experiment.name
    )
    try:
        while not batch.finished():
            for k, metrics in batch.advance():
                if k in errors:
                    continue
                wall = time.perf_counter() - started
                try:
                    best[k] = record(runs[k], members[k], logs[k], metrics, best[k], wall)
                except DivergedError as error:
                    errors[k] = str(error)
                    batch.stop(k)
            progress.update(batch.progress - progress.n)
    finally:
        progress.close()
        for log in logs:
            log.close()
    for k, run in enumerate(runs):
        if k not in errors:
            state = load_checkpoint(run.latest, config.device)
            trainer = run.make_trainer()
            trainer.load_state_dict(state["trainer"])
            finish(run, trainer, state["wall_seconds"], state["best_score"], len(runs))
    if errors:
        raise DivergedError(f"{len(errors)} of {len(runs)} seeds: " + "; ".join(errors.values()))
    return [run.path for run in runs]


def replaces_best(trainer: Trainer | Member, score: float, best_score: float) -> bool:
    """Whether the parameters just scored ``score`` become best.pt (the trainer's ``keeps``:
    the last scored, or the best scored, the later of equal ones)."""
    return trainer.keeps == "last" or score >= best_score


def _save_latest(
    run: Run, trainer: Trainer | Member, best_score: float, wall_seconds: float
) -> None:
    save_checkpoint(
        run.latest,
        {"trainer": trainer.state_dict(), "best_score": best_score, "wall_seconds": wall_seconds},
    )


def finish(
    run: Run, trainer: Trainer, wall_seconds: float, best_score: float, seeds_in_batch: int = 1
) -> None:
    """Evaluate the best policy, write results.json, plots and (if it has one) policy.nir.
    ``wall_seconds`` is the training's elapsed time; a batch of seeds (``seeds_in_batch``
    runs trained as one program) shares it, so each run's share of the cost is the quotient."""
    evaluate(
        run,
        trainer=trainer,
        train_info={
            "env_steps": trainer.env_steps,
            "episodes": trainer.episodes,
            "iterations": trainer.iteration,
            "wall_seconds": round(wall_seconds, 3),
            "seeds_in_batch": seeds_in_batch,
            "score": trainer.score_key,
            "best_score": best_score,
        },
    )
    plot(run, trainer)
    try:
        exported = export(run, trainer=trainer).name
    except NotExportableError as error:  # the run is finished all the same; say why
        exported = f"not exported: {error}"
    results = _read_json(run.path / "results.json")
    write_json(run.path / "results.json", {**results, "export": exported})


def plot(run: Run, trainer: Trainer | None = None) -> list[Path]:
    """The learning curve and the trainer's own plots of the policy best.pt keeps."""
    from neurorl.analysis.plots import plot_run

    paths = plot_run(run.path)
    if run.best.exists():
        trainer = trainer or run.make_trainer()
        paths += trainer.plots(run.path / "plots", best_params(run))
    return paths


def best_checkpoint(run: Run) -> dict:
    """best.pt: ``params`` (checked to be a tensor), ``iteration`` and ``score``."""
    if not run.best.exists():
        raise NeurorlError(f"run {run.path} has no best checkpoint yet (train it first)")
    return _policy_checkpoint(run.best, run.config.device)


def _policy_checkpoint(path: Path, device: str) -> dict:
    checkpoint = load_checkpoint(path, device)
    if not isinstance(checkpoint.get("params"), torch.Tensor):
        raise NeurorlError(f"checkpoint {path} holds no policy parameters")
    return checkpoint


def best_params(run: Run) -> torch.Tensor:
    return best_checkpoint(run)["params"]


def evaluate(
    run: Run,
    episodes: int | None = None,
    env_seed: int | None = None,
    trainer: Trainer | None = None,
    train_info: dict | None = None,
) -> dict:
    """Evaluate the best checkpoint (initial states drawn from env_seed); write results.json."""
    configure_cpu()
    trainer = trainer or run.make_trainer()
    episodes = run.config.eval.episodes if episodes is None else episodes
    env_seed = run.config.eval.env_seed if env_seed is None else env_seed
    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {episodes}")
    checkpoint = best_checkpoint(run)
    params = _matching(checkpoint["params"], trainer, run.best)
    returns, stats = trainer.evaluate(params, episodes, env_seed)
    at_iteration = {}  # the snapshots' test means, by iteration
    for iteration in trainer.snapshots:
        if run.snapshot(iteration).exists():
            snapshot = _policy_checkpoint(run.snapshot(iteration), run.config.device)
            params = _matching(snapshot["params"], trainer, run.snapshot(iteration))
            at_iteration[str(iteration)] = float(
                np.mean(trainer.evaluate(params, episodes, env_seed)[0])
            )
    results_file = run.path / "results.json"
    previous = _read_json(results_file)
    results = {
        **previous,  # what else the run recorded (e.g. its export) stays
        "experiment": run.experiment.name,
        "seed": run.config.seed,
        "eval": {
            "mean_return": float(np.mean(returns)),
            "std_return": float(np.std(returns)),
            "median_return": float(np.median(returns)),
            "min_return": float(np.min(returns)),
            "max_return": float(np.max(returns)),
            "episodes": episodes,
            "env_seed": env_seed,
            "checkpoint": f"best.pt (the {trainer.keeps} scored)",
            "checkpoint_iteration": checkpoint.get("iteration"),
            **stats,
            **({"mean_return_at_iteration": at_iteration} if at_iteration else {}),
        },
        "train": train_info or previous.get("train", {}),
    }
    write_json(results_file, results)
    return results


def _matching(params: torch.Tensor, trainer: Trainer, path: Path) -> torch.Tensor:
    if params.shape != trainer.params().shape:
        raise NeurorlError(
            f"checkpoint {path} does not match the run's network (shape {tuple(params.shape)})"
        )
    return params


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def export(run: Run, fmt: str = "nir", trainer: Trainer | None = None) -> Path:
    """Write the best policy to ``RUN_DIR/policy.nir``."""
    if fmt != "nir":
        raise ConfigError(f"unknown export format '{fmt}' (known: nir)")
    from neurorl.export.nir import write_graph

    trainer = trainer or run.make_trainer()
    try:
        graph = trainer.to_nir(best_params(run))
    except NotExportableError as error:
        raise NotExportableError(f"run {run.path} ({run.experiment.name}): {error}") from None
    path = run.path / "policy.nir"
    write_graph(path, graph)
    return path
