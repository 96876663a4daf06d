"""The paper's own ES (`cartpole-snn-evol-paper`) on its whole budget, beside the paper.

Each seed is the run of ``neurorl train cartpole-snn-evol-paper --seed S --out OUT``
(P 10, sigma 0.1, alpha 1, z-scored fitness, 1,600 iterations x 5 episodes per member, the
last scored centre kept): a finished run under ``--out`` with the same resolved config is
read, one that stopped early is resumed, any other is trained, ``--processes`` seeds at once
(one process and torch thread each; the ES already steps its 55 member-episodes as one
batch, which fills a core). The table gives each seed's test (100 episodes from env seed
42, played once after training) of its centre at the snapshot iterations (100, 200, 400,
800) and at the end, its training episodes and its training wall seconds (summed over
resumptions; they depend on what else ran beside it).

    python benchmarks/paper_es.py [--seeds 3] [--processes 2] [--out runs/paper-es]
        [--set KEY=VALUE ...]  (e.g. train.generations=4: a check of the script, not the paper)
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from cartpole_snn_learning import PAPER_EPISODES
from report import (
    check_experiments,
    check_minimums,
    main_with_one_line_errors,
    provenance,
    write_section,
)

from neurorl.cli import OneLineParser

EXPERIMENT = "cartpole-snn-evol-paper"
PAPER = "499.4 / 499.1 (its two seeds); 497.5 (490-500) over 10 connectivity seeds"


def run_seed(seed: int, out: str, overrides: dict[str, str]) -> str:
    """The seed's run folder: read, resumed or trained (``compare``'s reuse rule)."""
    import torch

    from neurorl.distributed.ray_runs import RunRequest
    from neurorl.experiments.compare import finished_runs

    torch.set_num_threads(1)
    settings = {**overrides, "seed": str(seed)}
    request = RunRequest(EXPERIMENT, settings, f"{EXPERIMENT} seed {seed}")
    return str(finished_runs([request], Path(out), quiet=True)[0])


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--processes", type=int, default=2, help="seeds trained at once")
    parser.add_argument("--out", type=Path, default=Path("runs/paper-es"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    check_minimums(parser, args, seeds=1, processes=1)
    overrides, _ = check_experiments(parser, [EXPERIMENT], args.overrides)
    seeds = range(args.seeds)
    load = os.getloadavg()[0]
    with ProcessPoolExecutor(args.processes, mp_context=get_context("spawn")) as pool:
        folders = list(
            pool.map(run_seed, seeds, [str(args.out)] * len(seeds), [overrides] * len(seeds))
        )
    results = [json.loads((Path(f) / "results.json").read_text()) for f in folders]
    snapshots = sorted({int(k) for r in results for k in r["eval"]["mean_return_at_iteration"]})
    end = results[0]["train"]["iterations"]
    columns = [*snapshots, end]
    tests = np.array(
        [
            [
                *(r["eval"]["mean_return_at_iteration"][str(n)] for n in snapshots),
                r["eval"]["mean_return"],
            ]
            for r in results
        ]
    )
    sets = "".join(f" --set {pair}" for pair in args.overrides)
    lines = [
        provenance(),
        f"- runs: {', '.join(folders)} (load average {load:.2f} when this command started)",
        "",
        f"`neurorl train {EXPERIMENT} --seed S{sets}` for seeds 0-{args.seeds - 1}: each run "
        f"read if finished, else resumed or trained here, {args.processes} at a time; its "
        "training wall s as the run recorded it, summed over resumptions, whatever ran beside "
        "it. Test: 100 episodes from env seed 42 of the centre at each "
        f"iteration, played once after training. The paper ({PAPER_EPISODES:,} episodes per "
        f"seed): {PAPER}; it passed STDP-RL's level (115.7) after 104-183 iterations.",
        "",
        "| seed | "
        + " | ".join(f"test at {n}" for n in columns)
        + " | training episodes | training wall s |",
        "|---" * (len(columns) + 3) + "|",
    ]
    for seed, (result, row) in enumerate(zip(results, tests, strict=True)):
        train = result["train"]
        lines.append(
            f"| {seed} | "
            + " | ".join(f"{x:.1f}" for x in row)
            + f" | {train['episodes']:,} | {train['wall_seconds']:.0f} |"
        )
    spread = tests.std(0, ddof=1) if len(tests) > 1 else np.zeros(len(columns))
    means = " | ".join(f"{m:.1f} ± {s:.1f}" for m, s in zip(tests.mean(0), spread, strict=True))
    lines.append(f"| mean ± sd | {means} | | |")
    reached = int((tests[:, -1] >= 475).sum())
    lines += ["", f"A final test >= 475 on {reached} of {len(results)} seeds."]
    body = "\n".join(lines)
    print(body)
    title = "Haşegan 2022 network: the paper's ES on its whole budget"
    print(write_section(title + (f" ({', '.join(args.overrides)})" if sets else ""), body))


if __name__ == "__main__":
    main_with_one_line_errors(main)
