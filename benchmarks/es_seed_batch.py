"""The paper's ES over a batch of seeds: one tensor program for K seeds against one per seed.

One generation of `cartpole-snn-evol-paper` plays P 10 members and the centre on 5 episodes
each: 55 networks of one connectivity, stepped as one batch (each time step an AOTInductor
package). `neurorl train cartpole-snn-evol-paper --seeds K` steps the 55 K networks of K
seeds, each with its own connectivity, as one program (`EvolutionSeedBatch`: a stack of
the K networks, each network's rows as one matrix product). Two measurements, one torch
thread, in this process, the packages built before timing:

- windows: env steps (50-ms windows of one network) per wall second at a constant batch,
  random CartPole-like inputs (the late generations, where every episode lasts 500 steps);
  K seeds of one connectivity (the same AOT step on a batch K times larger) bound the gain.
- generations: G generations of K seeds from their untrained centres, the K trainers one
  after the other, then the same generations as one batch (the early generations, where
  episodes end after ~20 steps and the batch shrinks); the two give the same numbers,
  checked here.

    python benchmarks/es_seed_batch.py [--seeds 3] [--seconds 10] [--generations 5]
"""

from __future__ import annotations

import dataclasses
import time

import torch
from cartpole_snn import windows_per_second
from report import check_minimums, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.core import configure_cpu
from neurorl.experiments.evolution import EvolutionConfig, EvolutionSeedBatch, EvolutionTrainer
from neurorl.experiments.registry import get_experiment
from neurorl.nets.cartpole_network import PlasticWeights, run_window
from neurorl.nets.cartpole_policy import PaperNetworkPolicy, stack_policies

ROWS = 55  # (P 10 members + the centre) x 5 episodes
EXPERIMENT = "cartpole-snn-evol-paper"


def stack_windows_per_second(policies: list[PaperNetworkPolicy], seconds: float) -> float:
    """:func:`windows_per_second` of a stack of ``policies``' networks, ``ROWS`` rows each."""
    stack = stack_policies(policies).with_rows([ROWS] * len(policies))
    params = torch.cat([p.initial_parameters().expand(ROWS, -1) for p in policies])
    weights, rows = stack.weights(params), len(params)
    generator = torch.Generator().manual_seed(2)
    state = stack.start(params, 1).network
    windows, started = -1, 0.0
    while windows < 0 or time.perf_counter() - started < seconds:
        if windows < 0:  # the first window builds the package: not timed
            started = time.perf_counter()
        obs = 0.1 * torch.randn(rows, 1, 4, generator=generator)
        state = run_window(obs, state, stack.network, weights, compile="aot").state
        windows += 1
    return windows * rows / (time.perf_counter() - started)


def generations(config: EvolutionConfig, seeds: range, count: int) -> tuple[float, float, int]:
    """Wall seconds of ``count`` generations of ``seeds`` one trainer after the other, then
    as one batch (after one generation of each, not timed: the packages' builds and loads),
    and the env steps they played."""
    alone = [EvolutionTrainer(dataclasses.replace(config, seed=s)) for s in seeds]
    alone_rows = [[trainer.train_step()] for trainer in alone]
    untimed_steps = sum(trainer.env_steps for trainer in alone)
    started = time.perf_counter()
    for trainer, rows in zip(alone, alone_rows, strict=True):
        rows += [trainer.train_step() for _ in range(count)]
    sequential = time.perf_counter() - started
    batch = EvolutionSeedBatch(config, tuple(seeds))
    batch_rows: list[list[dict[str, float]]] = [[] for _ in seeds]
    for generation in range(count + 1):
        if generation == 1:
            started = time.perf_counter()
        for k, metrics in batch.advance():
            batch_rows[k].append(metrics)
    together = time.perf_counter() - started
    for seed, mine, theirs in zip(seeds, batch_rows, alone_rows, strict=True):
        if mine != theirs:  # the batch's runs are the runs alone
            raise RuntimeError(f"seed {seed}: the batch's metrics differ from its run alone")
    steps = sum(trainer.env_steps for trainer in alone) - untimed_steps
    return sequential, together, steps


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="K")
    parser.add_argument("--seconds", type=float, default=10.0, help="per window measurement")
    parser.add_argument("--generations", type=int, default=5, help="G, timed per seed")
    args = parser.parse_args()
    check_minimums(parser, args, seeds=2, seconds=1, generations=1)
    torch.set_num_threads(1)
    configure_cpu()
    config = get_experiment(EXPERIMENT).default_config()
    policies = [config.net.build(4, 2, seed) for seed in range(args.seeds)]
    weights = [p.weights(p.initial_parameters().expand(ROWS, -1)) for p in policies]
    k, network = args.seeds, policies[0].network
    one = windows_per_second(ROWS, 1, args.seconds, "aot", network, weights[0])
    all_weights = PlasticWeights(*(torch.cat(parts) for parts in zip(*weights, strict=True)))
    same = windows_per_second(k * ROWS, 1, args.seconds, "aot", network, all_weights)
    stacked = stack_windows_per_second(policies, args.seconds)
    sequential, together, steps = generations(config, range(k), args.generations)
    body = "\n".join(
        [
            provenance() + "; torch threads 1",
            "",
            "| one program steps | env steps / s | vs one seed's batch |",
            "|---|---|---|",
            f"| one seed's generation: {ROWS} networks, one connectivity | {one:.0f} | 1.00x |",
            f"| {k} seeds, one connectivity ({k * ROWS} networks; the bound) | "
            f"{same:.0f} | {same / one:.2f}x |",
            f"| {k} seeds, their own connectivities ({k * ROWS} networks, a stack; "
            f"`--seeds {k}`) | {stacked:.0f} | {stacked / one:.2f}x |",
            "",
            f"Generations 2-{args.generations + 1} of seeds 0-{k - 1} from their untrained "
            f"centres ({steps} env steps, the same numbers both ways): the {k} trainers one "
            f"after the other {sequential:.1f} s ({steps / sequential:.0f} env steps / s), "
            f"as one batch {together:.1f} s ({steps / together:.0f} env steps / s): "
            f"{sequential / together:.2f}x.",
            "",
            "Both against one program per seed on one core: on a machine with a core per "
            "seed, one process per seed runs them side by side.",
        ]
    )
    print(body)
    print(write_section("Haşegan 2022 network: the ES over a batch of seeds", body))


if __name__ == "__main__":
    main()
