"""The paper's ES over a batch of seeds: what one tensor program for K seeds would gain.

One generation of `cartpole-snn-evol-paper` plays P 10 members and the centre on 5 episodes
each: 55 networks of one connectivity, stepped as one batch (each time step an
AOTInductor package, as `neurorl train` runs it). K seeds in one program would step 55 K
networks: of K connectivities (a stack of networks, ``stack_networks``, whose fixed weights
have a member dimension; its time step goes through ``torch.compile``, as a stack has no
AOTInductor package) or, as an upper bound on the gain, of one connectivity (the same AOT
step on a batch K times larger). Each figure: env steps (50-ms windows of one network) per
wall second in this process, one torch thread, random CartPole-like inputs, after a warm-up
(compilation) that is not timed (``cartpole_snn.windows_per_second``).

    python benchmarks/es_seed_batch.py [--seeds 3] [--seconds 10]
"""

from __future__ import annotations

import torch
from cartpole_snn import windows_per_second
from report import check_minimums, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.core import configure_cpu
from neurorl.experiments.registry import get_experiment
from neurorl.nets.cartpole_network import PlasticWeights, stack_networks

ROWS = 55  # (P 10 members + the centre) x 5 episodes


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="K")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    args = parser.parse_args()
    check_minimums(parser, args, seeds=2, seconds=1)
    torch.set_num_threads(1)
    configure_cpu()
    config = get_experiment("cartpole-snn-evol-paper").default_config()
    policies = [config.net.build(4, 2, seed) for seed in range(args.seeds)]
    weights = [p.weights(p.initial_parameters().expand(ROWS, -1)) for p in policies]
    k, network = args.seeds, policies[0].network
    one = windows_per_second(ROWS, 1, args.seconds, "aot", network, weights[0])
    all_weights = PlasticWeights(*(torch.cat(parts) for parts in zip(*weights, strict=True)))
    same = windows_per_second(k * ROWS, 1, args.seconds, "aot", network, all_weights)
    stack = stack_networks([p.network for p in policies for _ in range(ROWS)])
    stacked = windows_per_second(k * ROWS, 1, args.seconds, "step", stack, all_weights)
    body = "\n".join(
        [
            provenance() + "; torch threads 1",
            "",
            "| one program steps | env steps / s | vs one seed's batch |",
            "|---|---|---|",
            f"| one seed's generation: {ROWS} networks, one connectivity, AOT step | "
            f"{one:.0f} | 1.00x |",
            f"| {k} seeds, one connectivity ({k * ROWS} networks, AOT step; the upper bound) | "
            f"{same:.0f} | {same / one:.2f}x |",
            f"| {k} seeds, {k} connectivities stacked ({k * ROWS} networks, step through "
            f"`torch.compile`) | {stacked:.0f} | {stacked / one:.2f}x |",
            "",
            f"Against {k} processes of one seed each (one per core where there are cores), "
            f"one program for {k} seeds gains at most the upper bound's ratio, and the stack "
            "of connectivities, the one that runs the paper's protocol (each seed its own "
            "connectivity), gets its own ratio.",
        ]
    )
    print(body)
    print(write_section("Haşegan 2022 network: the ES over a batch of seeds", body))


if __name__ == "__main__":
    main()
