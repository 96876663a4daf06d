"""Deep spiking RL (Akl et al. 2023): CartPole SNN-DQN over seeds, Pendulum SNN vs ANN TD3.

Each run is a real run folder (training, evaluation of the best checkpoint on the
experiment's test episodes from env seed 42, plots, NIR export), one torch thread. Targets
of the issue: cartpole-snn-dqn test mean >= 475 within 100k env steps in < 10 min per seed;
pendulum-snn-td3 >= -200 within 30k steps. Figures go to BENCHMARKS.md.

    python benchmarks/deep_rl.py [--seeds 3] [--td3-seeds 1] [--skip-td3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from report import provenance, write_section

from neurorl.cli import main as neurorl

HEADER = [
    "| experiment | seed | test mean ± std (episodes) | env steps | training s | spikes / "
    "decision | synops / decision | MACs / decision |",
    "|---|---|---|---|---|---|---|---|",
]


def run(experiment: str, seed: int, out: Path) -> str:
    """Train ``experiment`` with ``seed``; one table row of its results.json."""
    started = time.perf_counter()
    assert neurorl(["train", experiment, "--quiet", "--seed", str(seed), "--out", str(out)]) == 0
    wall = time.perf_counter() - started
    run_dir = max((out / experiment).glob(f"*-seed{seed}"))
    results = json.loads((run_dir / "results.json").read_text())
    test, train = results["eval"], results["train"]
    row = (
        f"| {experiment} | {seed} | {test['mean_return']:.1f} ± {test['std_return']:.1f} "
        f"({test['episodes']}) | {train['env_steps']} | {train['wall_seconds']:.0f} | "
        f"{test['spikes_per_decision']:.0f} | {test['synops_per_decision']:.0f} | "
        f"{test['macs_per_decision']:.0f} |"
    )
    print(row, f"(whole command {wall:.0f} s)", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="cartpole-snn-dqn seeds")
    parser.add_argument("--td3-seeds", type=int, default=1, help="Pendulum TD3 seeds per kind")
    parser.add_argument("--skip-td3", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = [("cartpole-snn-dqn", seed) for seed in range(args.seeds)]
    if not args.skip_td3:
        runs += [
            (f"pendulum-{kind}-td3", seed)
            for kind in ("snn", "ann")
            for seed in range(args.td3_seeds)
        ]
    with tempfile.TemporaryDirectory() as scratch:
        rows = [run(name, seed, args.out or Path(scratch)) for name, seed in runs]
    body = "\n".join(
        [
            provenance(),
            "",
            "Best checkpoint (greedy score each iteration) tested on the experiment's test "
            "episodes from env seed 42; one torch thread. Energy proxies per decision: SNN "
            "synaptic operations (spikes x fan-out, accumulate only) and the MACs of its dense "
            "input layer; ANN MACs (e.g. 45 nm: 0.9 pJ per 32-bit add, 4.6 pJ per 32-bit "
            "multiply-add, Horowitz 2014).",
            "",
            *HEADER,
            *rows,
        ]
    )
    print(write_section("Deep spiking RL (Akl et al. 2023)", body))


if __name__ == "__main__":
    main()
