"""Speed of the Haşegan et al. 2022 CartPole network, against the original NEURON code.

Figures: simulated seconds per wall-clock second for one network with plasticity off (a
policy window per environment step) and with STDP-RL on (a whole training episode loop:
eligibility, critic, reward, homeostasis), and environment steps per second for a batched
population of 64 networks x 5 episodes. The anchors are the original NetPyNE/NEURON code
timed on this machine (shared/design/ARCHITECTURE.md): 3.8 simulated s per wall s with
plasticity off, 1.9 with STDP-RL on.

    python benchmarks/cartpole_snn.py [--threads 1] [--seconds 20]
"""

from __future__ import annotations

import time

import torch
from report import check_minimums, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.config import apply_overrides
from neurorl.core import configure_cpu
from neurorl.experiments.registry import get_experiment
from neurorl.nets.cartpole_network import (
    CartPoleNetwork,
    CompileMode,
    PlasticWeights,
    build_network,
    initial_state,
    run_window,
)

NEURON_PLASTICITY_OFF, NEURON_STDP_RL = 3.8, 1.9  # simulated s per wall s (anchor)


def windows_per_second(
    population: int,
    batch: int,
    seconds: float,
    compile: CompileMode = "off",
    network: CartPoleNetwork | None = None,
    weights: PlasticWeights | None = None,
) -> float:
    """Network windows (environment steps) per wall second, random CartPole-like inputs;
    ``compile``: the time step through ``torch.compile`` or as an AOTInductor package, or
    the whole window through ``torch.compile`` (compiled before timing); ``network`` and
    ``weights`` (``[population, ...]``): a drawn network's by default."""
    network = network or build_network(None, torch.Generator().manual_seed(0))
    if weights is None:
        weights = network.init_weights(population, torch.Generator().manual_seed(1))
    state = initial_state(network, population, batch)
    generator = torch.Generator().manual_seed(2)
    obs = 0.1 * torch.randn(population, batch, 4, generator=generator)
    state = run_window(obs, state, network, weights, compile=compile).state
    windows, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        obs = 0.1 * torch.randn(population, batch, 4, generator=generator)
        state = run_window(obs, state, network, weights, compile=compile).state
        windows += 1
    return windows * population * batch / (time.perf_counter() - started)


def stdp_rl_steps_per_second(seconds: float) -> float:
    """Environment steps per wall second of the STDP-RL training loop (stage 3 rule)."""
    experiment = get_experiment("cartpole-snn-stdprl")
    trainer = experiment.make_trainer(apply_overrides(experiment.default_config(), {}))
    trainer.env_steps = 50_000  # in the last stage
    trainer.train_step()  # compiles the window
    started, steps = time.perf_counter(), trainer.env_steps
    while time.perf_counter() - started < seconds:
        trainer.train_step()
    return (trainer.env_steps - steps) / (time.perf_counter() - started)


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0, help="per measurement")
    args = parser.parse_args()
    check_minimums(parser, args, threads=1, seconds=1)
    torch.set_num_threads(args.threads)
    configure_cpu()
    window_s = 0.05
    single = windows_per_second(1, 1, args.seconds) * window_s
    single_compiled = windows_per_second(1, 1, args.seconds, compile="window") * window_s
    single_ahead = windows_per_second(1, 1, args.seconds, compile="aot") * window_s
    learning = stdp_rl_steps_per_second(args.seconds) * window_s
    batched = windows_per_second(64, 5, args.seconds)
    compiled = windows_per_second(64, 5, args.seconds, compile="step")
    ahead = windows_per_second(64, 5, args.seconds, compile="aot")
    body = "\n".join(
        [
            provenance() + f"; torch threads {args.threads}",
            "",
            "| figure | neurorl | original (NEURON 8.2.7, anchor) | ratio |",
            "|---|---|---|---|",
            f"| one network, plasticity off: simulated s / wall s | {single:.2f} | "
            f"{NEURON_PLASTICITY_OFF} | {single / NEURON_PLASTICITY_OFF:.1f}x |",
            f"| the same, window through `torch.compile`: simulated s / wall s | "
            f"{single_compiled:.2f} | {NEURON_PLASTICITY_OFF} | "
            f"{single_compiled / NEURON_PLASTICITY_OFF:.1f}x |",
            f"| the same, time step as an AOTInductor package (any batch size; evolution's "
            f"rollouts): simulated s / wall s | {single_ahead:.2f} | "
            f"{NEURON_PLASTICITY_OFF} | {single_ahead / NEURON_PLASTICITY_OFF:.1f}x |",
            f"| one network, STDP-RL training loop (window compiled): simulated s / wall s | "
            f"{learning:.2f} | "
            f"{NEURON_STDP_RL} | {learning / NEURON_STDP_RL:.1f}x |",
            f"| 64 networks x 5 episodes batched: env steps / s | {batched:.0f} | "
            f"{NEURON_PLASTICITY_OFF / window_s:.0f} (one process) | "
            f"{batched / (NEURON_PLASTICITY_OFF / window_s):.0f}x |",
            f"| the same, time step through `torch.compile`: env steps / s | {compiled:.0f} | "
            f"{NEURON_PLASTICITY_OFF / window_s:.0f} (one process) | "
            f"{compiled / (NEURON_PLASTICITY_OFF / window_s):.0f}x |",
            f"| the same, time step as an AOTInductor package: env steps / s | {ahead:.0f} | "
            f"{NEURON_PLASTICITY_OFF / window_s:.0f} (one process) | "
            f"{ahead / (NEURON_PLASTICITY_OFF / window_s):.0f}x |",
            "",
            "One environment step = one 50-ms window (50 steps of dt 1 ms here, dt 0.6 ms in the "
            "original). The STDP-RL row times `cartpole-snn-stdprl` (ES->EA and EA->EM plastic "
            "since 2026-12-03, EA->EM only before). The anchors were timed on this machine by "
            "the design team, not in this run.",
        ]
    )
    print(body)
    print(write_section("CartPole network speed (Haşegan et al. 2022)", body))


if __name__ == "__main__":
    main()
