"""``neurorl reproduce PAPER``: a paper's table, regenerated in one command.

A reproduction is a list of rows, each an experiment, the measure the paper reports for it
and the paper's figure. Its runs are trained (or reused: a finished run under ``--out`` with
exactly the same resolved config, as ``neurorl compare`` does; or resumed: one that stopped
early, e.g. when a long reproduction was interrupted) for seeds ``0..K-1``, in
this process or on a Ray cluster; then ``<out>/reproduce/<paper>[-quick]/`` gets
``reproduction.md`` (the paper's figures beside neurorl's, per-seed values, the command, the
commit, the machine), ``reproduction.json`` (the same numbers and every run's config) and
``reproduction.png``. ``--quick`` runs fewer seeds on shorter budgets, labelled as such: a
smoke test of the pipeline, not the paper's protocol.

A paper's robustness claims are ``Study`` entries: an experiment trained at every point of a
config grid (e.g. Akl 2023's current decay x voltage decay) under each of several settings
(the paper's network and each remedy it claims), reported per setting as the spread of the
test return over the grid, with a heat map per setting (``robustness_<setting>.png``).

Measures: ``test`` (the kept policy's test mean: 100 episodes from env seed 42),
``best_score`` (the best training score, e.g. STDP-RL's best 100-episode training average),
``untrained`` (the run's initial policy on the test) and ``random`` (uniform actions on it).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neurorl.config import flatten
from neurorl.distributed.ray_runs import IN_PROCESS, Cluster, RunRequest
from neurorl.errors import NeurorlError
from neurorl.experiments.checkpoint import atomic_write_text, write_json
from neurorl.experiments.compare import finished_runs, returns_by_seed
from neurorl.experiments.registry import get_experiment, look_up
from neurorl.experiments.runner import resolve_config
from neurorl.experiments.sweep import point_label, write_plots
from neurorl.learn.rollout import random_policy_returns
from neurorl.provenance import commit, machine

Measure = Literal["test", "best_score", "untrained", "random"]


@dataclass(frozen=True)
class Row:
    label: str
    experiment: str
    measure: Measure
    paper: str  # the paper's figure on this measure, as it states it ("-": none)
    overrides: Mapping[str, str] = field(default_factory=dict)
    quick: Mapping[str, str] = field(default_factory=dict)  # more overrides under --quick
    # measure "test" at this iteration's snapshot (the experiment's train.snapshots) instead
    # of the kept policy; a run whose budget ends earlier has no value ("not reached")
    iteration: int | None = None

    @property
    def measure_label(self) -> str:
        return self.measure if self.iteration is None else f"test at iteration {self.iteration}"


@dataclass(frozen=True)
class Study:
    """``experiment`` at every point of ``grid`` (keys -> values, cartesian product) under each
    of ``settings`` (name -> overrides; the first is the reference), seeds ``0..seeds-1`` per
    point; ``paper`` states the claim the spread over the grid tests."""

    label: str
    experiment: str
    grid: Mapping[str, tuple[str, ...]]
    settings: Mapping[str, Mapping[str, str]]
    paper: str
    seeds: int
    quick_grid: Mapping[str, tuple[str, ...]]  # under --quick, with ``quick`` and one seed
    overrides: Mapping[str, str] = field(default_factory=dict)  # at every point
    quick: Mapping[str, str] = field(default_factory=dict)  # more overrides under --quick

    def points(self, quick: bool) -> list[dict[str, str]]:
        grid = self.quick_grid if quick else self.grid
        return [
            dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())
        ]


@dataclass(frozen=True)
class Reproduction:
    title: str
    protocol: str  # how the paper measures, in one or two sentences
    rows: tuple[Row, ...]
    seeds: int  # the paper's number of seeds
    quick_seeds: int = 2
    left_out: str = ""  # what of the paper this command does not run (yet)
    studies: tuple[Study, ...] = ()


# The first stage of the paper's STDP-RL schedule, 4,000 env steps instead of 10,000, eager.
QUICK_STDP_RL = {
    "stages": "[{env_steps: 4000, window_ms: 3, lifetime_ms: 400, rate: 0.04, "
    "angvel_weight: 0.4, positive_bias: 1.5, opposite_factor: 1.0}]",
    "net.compile": "false",
}
PAPER_TEST = "test: 100 episodes from env seed 42 (the paper's protocol)"

REPRODUCTIONS: dict[str, Reproduction] = {
    "hasegan2022": Reproduction(
        title="Haşegan et al. 2022: STDP-RL and evolution on a 200-neuron spiking CartPole agent",
        protocol=f"{PAPER_TEST}; STDP-RL for the original's 25,000 simulated s, scored by its "
        "best 100-episode training average; the paper's ES for 1,600 iterations (80,000 "
        "episodes, its whole budget).",
        seeds=10,
        rows=(
            Row("random policy", "cartpole-snn-evol-paper", "random", "20.2"),
            Row("untrained network", "cartpole-snn-evol-paper", "untrained", "~23"),
            Row(
                "STDP-RL, headline rule EA->EM",
                "cartpole-snn-stdprl-ea-em",
                "best_score",
                "115.7 (75-157)",
                quick=QUICK_STDP_RL,
            ),
            Row(
                "STDP-RL, headline rule EA->EM",
                "cartpole-snn-stdprl-ea-em",
                "test",
                "144.7 / 64.1 (best / worst of 2 seeds)",
                quick=QUICK_STDP_RL,
            ),
            Row(
                "STDP-RL, variant ES->EA + EA->EM",
                "cartpole-snn-stdprl",
                "best_score",
                "-",
                quick=QUICK_STDP_RL,
            ),
            Row(
                "the paper's ES (multiplicative, P 10)",
                "cartpole-snn-evol-paper",
                "test",
                "497.5 (490-500)",
                quick={"train.generations": "20"},
            ),
            *(
                Row(
                    "the paper's ES (multiplicative, P 10)",
                    "cartpole-snn-evol-paper",
                    "test",
                    "passes STDP-RL's 115.7 after 104-183" if iteration == 200 else "-",
                    quick={"train.generations": "20"},
                    iteration=iteration,
                )
                for iteration in (100, 200, 400, 800)
            ),
            Row(
                "a modern ES (antithetic, ranks, Adam)",
                "cartpole-snn-evol",
                "test",
                "-",
                quick={"train.generations": "10"},
            ),
            Row(
                "STDP-RL, then evolution",
                "cartpole-snn-stdprl-evol",
                "test",
                "-",
                quick={"lifetime.episodes": "200", "train.generations": "10"},
            ),
        ),
    ),
    "akl2023": Reproduction(
        title="Akl et al. 2023: deep spiking RL (DQN and TD3 with surrogate gradients)",
        protocol=f"{PAPER_TEST} (Pendulum: 10 episodes); the paper publishes learning curves "
        "but no table: its column gives what it states.",
        seeds=10,
        rows=(
            Row("random policy, CartPole", "cartpole-snn-dqn", "random", "-"),
            Row(
                "CartPole DQN, spiking Q-network",
                "cartpole-snn-dqn",
                "test",
                "learns (curves only)",
                quick={"train.total_steps": "10000"},
            ),
            Row(
                "CartPole DQN, ReLU Q-network",
                "cartpole-ann-dqn",
                "test",
                "195 on CartPole-v0 after 240-296 episodes",
                quick={"train.total_steps": "10000"},
            ),
            Row(
                "Pendulum TD3, spiking actor",
                "pendulum-snn-td3",
                "test",
                "learns (curves only)",
                quick={"train.total_steps": "4000"},
            ),
            Row(
                "Pendulum TD3, ReLU actor",
                "pendulum-ann-td3",
                "test",
                "-",
                quick={"train.total_steps": "4000"},
            ),
        ),
        left_out="MuJoCo TD3 (`benchmarks/deep_rl.py --mujoco`)",
        studies=(
            Study(
                "CartPole SNN-DQN over current decay x voltage decay (threshold 0.2)",
                "cartpole-snn-dqn",
                grid={
                    "net.current_decay": ("0.2", "0.5", "0.8"),
                    "net.voltage_decay": ("0.2", "0.5", "0.8"),
                },
                settings={
                    "paper": {"net.encoding": "constant"},
                    "T8": {"net.encoding": "constant", "net.steps": "8"},
                    "two-neuron": {"net.encoding": "two_neuron"},
                    "randomised": {"net.encoding": "constant", "net.randomise": "normal"},
                },
                paper="sensitive to the decays and the threshold; a longer T, two-neuron "
                "input and per-neuron randomised membranes make it less so",
                seeds=3,
                quick_grid={"net.current_decay": ("0.2", "0.8"), "net.voltage_decay": ("0.5",)},
                quick={"train.total_steps": "3000"},
            ),
        ),
    ),
}


def get_reproduction(name: str) -> Reproduction:
    """The reproduction called ``name``; an unknown name suggests the closest one."""
    return look_up(REPRODUCTIONS, name, "paper")


def _settings(row: Row, quick: bool) -> dict[str, str]:
    return {**row.overrides, **(row.quick if quick else {})}


def reproduce(
    name: str,
    seeds: int | None,
    quick: bool,
    out: Path,
    quiet: bool,
    cluster: Cluster = IN_PROCESS,
    command: str = "",
) -> Path:
    """Train or reuse the runs of paper ``name``; write its folder (module docstring).
    ``seeds`` (default: the paper's) applies to every row and every study's grid point."""
    started = time.perf_counter()
    paper = get_reproduction(name)
    if seeds is not None and seeds < 1:
        raise NeurorlError(f"--seeds must be >= 1, got {seeds}")
    row_seeds = (paper.quick_seeds if quick else paper.seeds) if seeds is None else seeds
    folder = out / "reproduce" / f"{name}{'-quick' if quick else ''}"
    trained = {}  # (experiment, settings) -> run requests by seed, each trained once
    keys = [(row.experiment, tuple(sorted(_settings(row, quick).items()))) for row in paper.rows]
    for row, key in zip(paper.rows, keys, strict=True):
        if row.measure in ("test", "best_score") and key not in trained:
            trained[key] = [
                RunRequest(row.experiment, {**dict(key[1]), "seed": str(s)}, f"{row.label} {s}")
                for s in range(row_seeds)
            ]
    study_seeds = [
        (1 if quick else study.seeds) if seeds is None else seeds for study in paper.studies
    ]
    grids = [
        _study_requests(study, quick, n)
        for study, n in zip(paper.studies, study_seeds, strict=True)
    ]
    requests = [request for group in trained.values() for request in group]
    requests += [r for grid in grids for _, _, group in grid for r in group]
    configs = {
        f"{row.experiment} seed {seed}": _run_config(
            row.experiment, {**_settings(row, quick), "seed": seed}
        )
        for row in paper.rows
        for seed in range(row_seeds)
    }
    configs |= {request.label: _run_config(request.name, request.overrides) for request in requests}
    _check_folder(folder, configs)
    paths = iter(finished_runs(requests, out, quiet, cluster))
    runs = {key: [next(paths) for _ in group] for key, group in trained.items()}
    values = [
        _values(row, runs.get(key, []), dict(key[1]), row_seeds)
        for row, key in zip(paper.rows, keys, strict=True)
    ]
    studies = []
    for study, grid, n in zip(paper.studies, grids, study_seeds, strict=True):
        settings: dict[str, dict[str, Any]] = {}
        for setting, point, group in grid:
            entry = settings.setdefault(
                setting, {"overrides": dict(study.settings[setting]), "points": [], "values": []}
            )
            group_paths = [next(paths) for _ in group]
            entry["points"].append(point)
            entry["values"].append(returns_by_seed(group_paths)["means"].tolist())
            runs[(study.experiment, (("setting", setting), *point.items()))] = group_paths
        studies.append(
            {**dataclasses.asdict(study), "seeds": n, "settings": settings, "quick": quick}
        )
    folder.mkdir(parents=True, exist_ok=True)
    folders = {str(path) for group in runs.values() for path in group}
    training = [json.loads((Path(f) / "results.json").read_text())["train"] for f in folders]
    record = {
        "paper": name,
        "quick": quick,
        "seeds": row_seeds,
        "command": command,
        "commit": commit(),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": [
            {**dataclasses.asdict(row), "measure_label": row.measure_label, "values": v}
            for row, v in zip(paper.rows, values, strict=True)
        ],
        "studies": studies,
        "runs": {f"{k[0]} {dict(k[1])}": [str(p) for p in v] for k, v in runs.items()},
        "configs": configs,
        "wall_seconds": round(time.perf_counter() - started, 1),
        # each run's training as it recorded it (reused runs included; resumed ones summed),
        # a batch of seeds' elapsed time shared among its runs
        "training_wall_seconds": round(
            sum(t.get("wall_seconds", 0.0) / t.get("seeds_in_batch", 1) for t in training), 1
        ),
    }
    write_json(folder / "reproduction.json", record)
    atomic_write_text(folder / "reproduction.md", _table(paper, record))
    _plot(paper, values, folder / "reproduction.png")
    for study in studies:
        _plot_study(study, quick, folder)
    return folder


def _study_requests(
    study: Study, quick: bool, seeds: int
) -> list[tuple[str, dict[str, str], list[RunRequest]]]:
    """(setting, grid point, a request per seed) for every setting and point of ``study``."""
    budget = {**study.overrides, **(study.quick if quick else {})}
    return [
        (
            setting,
            point,
            [
                RunRequest(
                    study.experiment,
                    {**budget, **overrides, **point, "seed": str(s)},
                    f"{study.experiment} [{setting}] {point_label(point)} seed {s}",
                )
                for s in range(seeds)
            ],
        )
        for setting, overrides in study.settings.items()
        for point in study.points(quick)
    ]


def _run_config(experiment: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    return _plain(flatten(resolve_config(get_experiment(experiment), dict(overrides))))


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """A flattened config as JSON data (sections in tuples, e.g. STDP-RL's stages, as dicts),
    the form reproduction.json keeps and compares."""

    def as_dict(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)
        raise TypeError(f"{type(value).__name__} is not config data")

    return json.loads(json.dumps(config, default=as_dict))


def _values(
    row: Row, paths: list[Path], settings: dict[str, str], seeds: int
) -> list[float | None]:
    """The row's measure for seeds 0..seeds-1 (None: a snapshot the run did not reach)."""
    experiment = get_experiment(row.experiment)
    if row.measure in ("test", "best_score"):
        results = [json.loads((path / "results.json").read_text()) for path in paths]
        if row.iteration is not None:
            key = str(row.iteration)
            return [r["eval"].get("mean_return_at_iteration", {}).get(key) for r in results]
        if row.measure == "test":
            return [r["eval"]["mean_return"] for r in results]
        return [r["train"]["best_score"] for r in results]
    values = []
    for seed in range(seeds):
        config = resolve_config(experiment, {**settings, "seed": seed})
        protocol = config.eval
        if row.measure == "random":
            limit = getattr(config, "max_episode_steps", None)
            returns = random_policy_returns(
                config.env_id, protocol.episodes, protocol.env_seed, seed, limit
            )
        else:
            trainer = experiment.make_trainer(config)
            returns, _ = trainer.evaluate(trainer.params(), protocol.episodes, protocol.env_seed)
        values.append(float(np.mean(returns)))
    return values


def _check_folder(folder: Path, configs: dict[str, dict[str, Any]]) -> None:
    """A folder that already holds this paper's reproduction with other settings is not
    overwritten."""
    record = folder / "reproduction.json"
    if not record.is_file():
        return
    try:
        previous = json.loads(record.read_text())["configs"]
    except (OSError, ValueError, KeyError, TypeError):
        raise NeurorlError(f"{record} is not a reproduction record; use another --out") from None
    for run, config in configs.items():
        old = previous.get(run)
        if old is not None and old != config:
            key = next(k for k in config if old.get(k) != config[k])
            raise NeurorlError(
                f"{folder} holds a reproduction whose {run} ran with {key}={old.get(key)!r}, "
                f"not {config[key]!r}; use another --out"
            )


def _table(paper: Reproduction, record: dict) -> str:
    seeds, quick = record["seeds"], record["quick"]
    lines = [f"# {paper.title}", ""]
    if quick:
        lines += [
            f"**Quick version**: {seeds} seeds and shorter budgets (`--quick`): a check of the "
            "pipeline, not the paper's protocol; its figures are not comparable with the "
            "paper's.",
            "",
        ]
    lines += [
        f"Protocol: {paper.protocol}",
        "",
        "| row | experiment | measure | paper | neurorl (mean ± sd) | per seed |",
        "|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        v = np.array(row["values"], dtype=float)
        reached = v[np.isfinite(v)]
        spread = "not reached (a shorter budget)"
        if len(reached):
            sd = reached.std(ddof=1) if len(reached) > 1 else 0.0
            spread = f"{reached.mean():.1f} ± {sd:.1f} ({len(reached)} seeds)"
        per_seed = ", ".join("-" if np.isnan(x) else f"{x:.1f}" for x in v)
        lines.append(
            f"| {row['label']} | `{row['experiment']}` | {row['measure_label']} | "
            f"{row['paper']} | {spread} | {per_seed} |"
        )
    lines += [""]
    for study in record["studies"]:
        lines += _study_table(study)
    if paper.left_out:
        lines += [f"Not run by this command: {paper.left_out}.", ""]
    lines += [
        f"- command: `{record['command']}`",
        f"- commit: {record['commit']}",
        f"- machine: {record['machine']}",
        f"- date: {record['date']}",
        f"- wall time: this command {record['wall_seconds']:.0f} s; the training of its "
        f"{len({p for paths in record['runs'].values() for p in paths})} runs "
        f"{record['training_wall_seconds']:.0f} s, summed as each run recorded it (reused "
        "runs included, whenever and wherever they ran; a batch of seeds counted once)",
        "- runs: " + "; ".join(f"{key}: {len(paths)}" for key, paths in record["runs"].items()),
        "",
    ]
    return "\n".join(lines)


def _study_table(study: dict[str, Any]) -> list[str]:
    """Per setting: the test return's mean, spread and range over the grid points (each point
    the mean over seeds), then every point's value."""
    grid = study["quick_grid"] if study["quick"] else study["grid"]
    size = " x ".join(str(len(values)) for values in grid.values())
    lines = [
        f"## Robustness: {study['label']}",
        "",
        f"The paper: {study['paper']}. Grid: {', '.join(grid)} ({size} points), "
        f"{study['seeds']} seed(s) per point, each point's value the mean of its seeds' test "
        "returns; a setting is robust where its spread over the grid is small.",
        "",
        "| setting | overrides | mean over the grid | std | min | max | per point |",
        "|---|---|---|---|---|---|---|",
    ]
    for setting, entry in study["settings"].items():
        means = np.array(entry["values"]).mean(1)
        overrides = ", ".join(f"{k}={v}" for k, v in entry["overrides"].items())
        per_point = "; ".join(
            f"{'/'.join(point.values())}: {m:.1f}"
            for point, m in zip(entry["points"], means, strict=True)
        )
        lines.append(
            f"| {setting} | {overrides} | {means.mean():.1f} | {means.std():.1f} | "
            f"{means.min():.1f} | {means.max():.1f} | {per_point} |"
        )
    files = ", ".join(f"`robustness_{_slug(setting)}_*.png`" for setting in study["settings"])
    return [*lines, "", f"Heat maps per setting: {files}.", ""]


def _plot_study(study: dict[str, Any], quick: bool, folder: Path) -> None:
    grid = study["quick_grid"] if quick else study["grid"]
    for setting, entry in study["settings"].items():
        write_plots(folder, grid, np.array(entry["values"]), prefix=f"robustness_{_slug(setting)}_")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _plot(paper: Reproduction, values: list[list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurorl.analysis.plots import save_figure

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(values) + 1.5))
    for i, v in enumerate(np.array(row, dtype=float) for row in values):
        ax.scatter(v, [i] * len(v), s=14, alpha=0.7)
        if np.isfinite(v).any():
            ax.plot([np.nanmean(v)] * 2, [i - 0.3, i + 0.3], color="black")
    labels = [f"{row.label} ({row.measure_label})" for row in paper.rows]
    ax.set_yticks(range(len(values)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("per seed (dots) and mean (bar)")
    ax.grid(alpha=0.3, axis="x")
    save_figure(fig, path)
