"""The simulated worm plate (Li, Kreiman & Ramanathan 2024): simulator speed, and per line
an offline SAC agent against light off and random light at the agent's own rate.

For each line, ``neurorl train worm-<line>-sac`` makes a real run folder per seed (data,
training with model selection on validation plates of the run's own seed, the runner's
test on env seed 42). The kept policy is then played once more on ``--episodes`` plates
from env seed 42 (fresh worms and targets); the light-off control plays plates from env
seed 43 and random light at the agent's measured on-rate plates from env seed 44 (other
animals, as in the lab). Reported: success within the episode, median time to target
(failures counted at 600 s), Fisher's exact test on success and Mann-Whitney U on the
times. The wild-type line carries no opsin, so any "effect" there is noise: the section
says whether the pipeline finds none (both p > 0.05). Generalisation: each line's seed-0
agent, trained on bare plates, plays plates with 12 obstacles and plates with a food patch
at the target, against both controls on those plates (the issue's target: with obstacles the
agent still beats the light-off control).

    python benchmarks/worm.py [--lines aiy,wt] [--seeds 1] [--episodes 200] [--out DIR]

Figures go to BENCHMARKS.md and docs/li2024/ (time_to_target.png, policy_map_<line>.png,
generalisation.png, cross_evaluation.png, plate frames).
Bad flags or lines: one line, exit code 2, before anything runs.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from report import ROOT, check_minimums, main_with_one_line_errors, provenance, write_section
from scipy import stats

from neurorl.analysis.worm_plots import (
    Comparison,
    controls_figure,
    cross_evaluation_figure,
    policy_map_figure,
)
from neurorl.cli import OneLineParser
from neurorl.cli import main as neurorl
from neurorl.envs.worm.env import WormPlate
from neurorl.envs.worm.lines import LINES
from neurorl.envs.worm.plate import PlateConfig, WormPlateBatch, run_episodes
from neurorl.errors import NeurorlError
from neurorl.experiments.runner import open_run

DOCS = ROOT / "docs" / "li2024"
TEST_SEED, OFF_SEED, RANDOM_SEED = 42, 43, 44


def worm_seconds_per_second(config: PlateConfig, worms: int, seconds: float) -> float:
    """Simulated worm-seconds per wall-clock second of ``worms`` plates, random light."""
    batch = WormPlateBatch(config, worms)
    rng = np.random.default_rng(0)
    batch.reset(rng)
    steps = round(seconds * config.decision_rate_hz)
    started = time.perf_counter()
    for _ in range(steps):
        batch.step(rng.random(worms) < 0.1, rng)
    return worms * seconds / (time.perf_counter() - started)


def speed_table() -> str:
    rows = ["| simulator | plates | worm-seconds per wall second |", "|---|---|---|"]
    for response, worms, seconds in (
        ("gains", 1, 600),
        ("gains", 2000, 120),
        ("circuit", 1000, 20),
    ):
        config = PlateConfig(line="aiy", response=response)
        rate = worm_seconds_per_second(config, worms, seconds)
        rows.append(f"| {response} | {worms} | {rate:,.0f} |")
    return "\n".join(rows)


def plate_frame(path: Path, **changes) -> Path:
    """A rendered frame of one AIY plate (``changes``: PlateConfig fields) after 300 s of
    random light (docs' picture)."""
    env = WormPlate(PlateConfig(line="aiy", **changes), render_mode="rgb_array")
    env.reset(seed=TEST_SEED)
    rng = np.random.default_rng(0)
    for _ in range(900):
        env.step(int(rng.random() < 0.1))
    plt.imsave(path, env.render())
    return path


def train(line: str, seed: int, out: Path) -> Path:
    """One run folder of ``worm-<line>-sac`` (a finished one already in ``out`` is reused,
    so that adding lines does not retrain the others)."""
    name = f"worm-{line}-sac"
    finished = sorted((out / name).glob(f"*-seed{seed}/results.json"))
    if finished:
        return finished[-1].parent
    code = neurorl(["train", name, "--quiet", "--seed", str(seed), "--out", str(out)])
    if code != 0:
        raise NeurorlError(f"neurorl train {name} --seed {seed} failed (exit {code})")
    return max((out / name).iterdir())


def against_controls(env: PlateConfig, act, episodes: int) -> Comparison:
    """``act`` (obs -> light) on the test plates, light off and random light at its on-rate
    on plates of their own."""
    agent = run_episodes(
        env, lambda obs, rng: act(torch.from_numpy(obs)).numpy(), episodes, TEST_SEED
    )
    on_rate = float(agent.light_on.mean())
    off = run_episodes(env, lambda obs, rng: np.zeros(len(obs), bool), episodes, OFF_SEED)
    matched = run_episodes(
        env, lambda obs, rng: rng.random(len(obs)) < on_rate, episodes, RANDOM_SEED
    )
    return Comparison(agent, off, matched, on_rate)


def compare(run_path: Path, episodes: int) -> tuple[Comparison, PlateConfig, object, object]:
    """The kept policy against both controls on the run's own plates; the env, the policy's
    P(light on) and the policy."""
    run = open_run(run_path)
    trainer = run.make_trainer()
    params = torch.load(run.best, weights_only=True)["params"]
    act = trainer.greedy(params)
    env = run.config.env
    comparison = against_controls(env, act, episodes)
    return comparison, env, trainer.light_probability(params), act


VARIANTS = {"obstacles": {"obstacles": 12}, "food": {"food": True}}


def generalisation(
    acts: dict[str, object], envs: dict[str, PlateConfig], episodes: int
) -> tuple[list[str], list[str]]:
    """Each line's seed-0 agent (trained on bare plates) on plates with 12 obstacles and on
    plates with a food patch at the target, against both controls: table rows, verdicts and
    ``docs/li2024/generalisation.png``."""
    rows, verdicts, comparisons, labelled = [], [], {}, {}
    for line, act in acts.items():
        for variant, changes in VARIANTS.items():
            env = dataclasses.replace(envs[line], **changes)
            result = against_controls(env, act, episodes)
            fisher, mann_whitney = tests(result, env.episode_seconds)
            censor = env.episode_seconds
            rows.append(
                f"| {line} | {variant} | {result.agent.success:.2f} | "
                f"{result.light_off.success:.2f} | {result.random_matched.success:.2f} | "
                f"{result.agent.median_time(censor):.0f} | "
                f"{result.light_off.median_time(censor):.0f} | {result.on_rate:.2f} | "
                f"{fisher:.3g} | {mann_whitney:.3g} |"
            )
            label = f"{line}, {variant}"
            comparisons[label], labelled[label] = result, env
            beats = result.agent.success > result.light_off.success and fisher < 0.05
            verdicts.append(
                f"- {label}: the agent {'beats' if beats else 'does NOT beat'} the light-off "
                f"control ({result.agent.success:.2f} vs {result.light_off.success:.2f}, "
                f"Fisher p {fisher:.3g})"
            )
    controls_figure(labelled, {}, episodes, TEST_SEED, DOCS / "generalisation.png", comparisons)
    return rows, verdicts


def heading_to_target(obs: np.ndarray) -> np.ndarray:
    """True where the newest frame's body axis points within 60 degrees of the target."""
    frame = obs.reshape(len(obs), -1, 6)[:, -1]
    body = np.arctan2(frame[:, 0], frame[:, 1])
    to_target = np.arctan2(-frame[:, 5], -frame[:, 4])
    return np.cos(body - to_target) > 0.5


def references(env: PlateConfig, episodes: int) -> str:
    """Two hand-written policies on the test plates: light on while heading to the target,
    and light on while heading elsewhere (a yardstick for what the line's light can do)."""
    toward = run_episodes(env, lambda obs, rng: heading_to_target(obs), episodes, TEST_SEED)
    away = run_episodes(env, lambda obs, rng: ~heading_to_target(obs), episodes, TEST_SEED)
    censor = env.episode_seconds
    return (
        f"| {env.line} | {toward.success:.2f} | {toward.median_time(censor):.0f} | "
        f"{away.success:.2f} | {away.median_time(censor):.0f} |"
    )


def cross_evaluation(runs: dict[str, Path], episodes: int) -> str:
    """Each line's kept agent on every line's worms (env seed 42): a success matrix, as a
    table and ``docs/li2024/cross_evaluation.png``."""
    lines = list(runs)
    success = np.zeros((len(lines), len(lines)))
    for row, line in enumerate(lines):
        run = open_run(runs[line])
        act = run.make_trainer().greedy(torch.load(run.best, weights_only=True)["params"])
        for col, worms in enumerate(lines):
            env = dataclasses.replace(run.config.env, line=worms)
            played = run_episodes(
                env,
                lambda obs, rng, act=act: act(torch.from_numpy(obs)).numpy(),
                episodes,
                TEST_SEED,
            )
            success[row, col] = played.success
    cross_evaluation_figure(success, lines, DOCS / "cross_evaluation.png")
    table = ["| agent / worms | " + " | ".join(lines) + " |", "|---" * (len(lines) + 1) + "|"]
    for line, values in zip(lines, success, strict=True):
        table.append(f"| {line} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    return "\n".join(table)


def tests(result: Comparison, censor: float) -> tuple[float, float]:
    """``(Fisher p on success, Mann-Whitney p on times)``, agent vs light off, two-sided."""
    a, o = result.agent, result.light_off
    table = [
        [int(np.isfinite(a.time_to_target).sum()), int(np.isinf(a.time_to_target).sum())],
        [int(np.isfinite(o.time_to_target).sum()), int(np.isinf(o.time_to_target).sum())],
    ]
    fisher = stats.fisher_exact(table).pvalue
    times = stats.mannwhitneyu(
        np.minimum(a.time_to_target, censor), np.minimum(o.time_to_target, censor)
    ).pvalue
    return float(fisher), float(times)


def main() -> None:
    parser = OneLineParser(prog="worm.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", default="aiy,wt", help="comma-separated lines (default aiy,wt)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument(
        "--cross", action="store_true", help="cross-evaluate the lines' agents (seed 0)"
    )
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: a temp dir)")
    args = parser.parse_args()
    check_minimums(parser, args, seeds=1, episodes=100)
    lines = [line.strip() for line in args.lines.split(",") if line.strip()]
    unknown = [line for line in lines if line not in LINES]
    if unknown or not lines:
        parser.error(f"--lines must name lines of {', '.join(LINES)}, got {args.lines}")
    torch.set_num_threads(1)

    started = time.perf_counter()
    speed = speed_table()
    out = args.out or Path(tempfile.mkdtemp(prefix="worm-bench-"))
    rows = [
        "| line | seed | members | agent success | off success | random success | "
        "agent median s | off median s | random median s | light on | Fisher p | "
        "Mann-Whitney p | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    reference_rows = [
        "| line | on toward target: success | median s | on elsewhere: success | median s |",
        "|---|---|---|---|---|",
    ]
    comparisons, envs, verdicts, seed0_runs, acts, budgets = {}, {}, [], {}, {}, set()
    DOCS.mkdir(parents=True, exist_ok=True)
    for line in lines:
        for seed in range(args.seeds):
            run_started = time.perf_counter()
            run_path = train(line, seed, out)
            results = json.loads((run_path / "results.json").read_text())
            trained = open_run(run_path).config
            budgets.add((trained.sac.ensemble, trained.train.gradient_steps))
            train_s = results["train"]["wall_seconds"]
            result, env, probability, act = compare(run_path, args.episodes)
            censor = env.episode_seconds
            fisher, mann_whitney = tests(result, censor)
            rows.append(
                f"| {line} | {seed} | {trained.sac.ensemble} | {result.agent.success:.2f} | "
                f"{result.light_off.success:.2f} | {result.random_matched.success:.2f} | "
                f"{result.agent.median_time(censor):.0f} | "
                f"{result.light_off.median_time(censor):.0f} | "
                f"{result.random_matched.median_time(censor):.0f} | {result.on_rate:.2f} | "
                f"{fisher:.3g} | {mann_whitney:.3g} | {train_s:.0f} |"
            )
            if line == "wt":
                none_found = fisher > 0.05 and mann_whitney > 0.05
                verdict = "no effect found" if none_found else "an EFFECT was found"
                verdicts.append(
                    f"- wild type, seed {seed}: {verdict} (Fisher p {fisher:.3g}, Mann-Whitney p "
                    f"{mann_whitney:.3g}; both > 0.05 is the check)"
                )
            if seed == 0:
                comparisons[line], envs[line], seed0_runs[line] = result, env, run_path
                acts[line] = act
                reference_rows.append(references(env, args.episodes))
                policy_map_figure(probability, env, DOCS / f"policy_map_{line}.png")
            print(f"{line} seed {seed}: {time.perf_counter() - run_started:.0f} s", flush=True)
    controls_figure(envs, {}, args.episodes, TEST_SEED, DOCS / "time_to_target.png", comparisons)
    plate_frame(DOCS / "plate_frame.png")
    plate_frame(DOCS / "plate_obstacles_food.png", obstacles=12, food=True)
    transfer_rows, transfer_verdicts = generalisation(acts, envs, args.episodes)
    cross = (
        [
            "Cross-evaluation (success; 100 plates from env seed 42 per cell):",
            "",
            cross_evaluation(seed0_runs, 100),
        ]
        if args.cross
        else []
    )

    body = "\n".join(
        [
            provenance(),
            "- protocol: offline discrete SAC, "
            + " / ".join(f"ensemble of {p}, {b:,} gradient steps" for p, b in sorted(budgets))
            + " (paper settings otherwise), "
            f"5 h random-light data per run; agent on {args.episodes} plates from env seed "
            f"{TEST_SEED}; light off from env seed {OFF_SEED}; random light at the agent's "
            f"on-rate from env seed {RANDOM_SEED}; episodes 600 s; medians count failures at "
            "600 s; p-values agent vs light off",
            f"- whole script: {time.perf_counter() - started:.0f} s",
            "",
            speed,
            "",
            *rows,
            "",
            *verdicts,
            "",
            "Hand-written yardsticks on the same test plates (light on while the body points "
            "within 60 degrees of the target, or while it points elsewhere):",
            "",
            *reference_rows,
            "",
            "Generalisation: the seed-0 agents, trained on bare plates, on plates with 12 "
            "obstacles (discs of 0.25 cm the worm cannot enter; the paper's confetti) and on "
            "plates with a food patch at the target (the worm pirouettes up its odour); plates "
            f"as above (agent env seed {TEST_SEED}, light off {OFF_SEED}, random {RANDOM_SEED}):",
            "",
            "| line | plate | agent success | off success | random success | agent median s | "
            "off median s | light on | Fisher p | Mann-Whitney p |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *transfer_rows,
            "",
            *transfer_verdicts,
            "",
            *cross,
            "",
            "Figures: `docs/li2024/time_to_target.png`, `docs/li2024/policy_map_<line>.png`, "
            "`docs/li2024/generalisation.png`, `docs/li2024/plate_frame.png`, "
            "`docs/li2024/plate_obstacles_food.png`.",
        ]
    )
    write_section("Worm plate, Li et al. 2024 (benchmarks/worm.py)", body)
    print(body)


if __name__ == "__main__":
    main_with_one_line_errors(main)
