"""Throughput of one LIF layer: neurorl against snnTorch and Norse, in the same run.

The layer: a dense input map 1000 -> 1000 (with bias) followed by 1000 LIF neurons
(beta 0.9, threshold 1, reset by subtraction in the same step, fast-sigmoid surrogate of
slope 25), batch 64, 1,000 time steps of Bernoulli(0.1) input spikes, float32 on CPU.

* forward: under ``torch.no_grad()``;
* forward+backward: loss = sum of all output spikes, backward to the weight and bias.

Implementations (each in its library's ordinary form):

* neurorl: ``neurorl.core.layers.lif_layer`` (the input map is one matrix product over all
  T x batch rows, the time loop is fused, one autograd node for the whole sequence);
* snnTorch: ``nn.Linear`` + ``snntorch.Leaky(reset_mechanism="subtract", reset_delay=False,
  spike_grad=surrogate.fast_sigmoid(25))``;
* Norse: ``nn.Linear`` + ``norse.torch.LIFBoxCell`` (method "super", alpha 25,
  ``reset_subtract``); skipped, with a message, when Norse is not importable (install:
  ``pip install nirtorch && pip install --no-deps norse``).

Each peer runs twice: "hoisted", with the trick neurorl uses (the ``nn.Linear`` applied once
to all ``[T, batch, in]`` inputs, the neuron stepped over its output), and "per step", the
idiom of the peers' tutorials (``nn.Linear`` then the neuron inside the time loop). The
ratio column compares neurorl with the faster hoisted peer: like for like.

Figures are millions of neuron-updates per second (T x batch x neurons / seconds), the best
of ``--repeats`` runs; the implementations are interleaved (the order rotates every repeat)
so that a load change on the machine hits all of them alike. ``torch.set_flush_denormal``
is on for everyone. The run writes (replaces) the section "## Core throughput" of
BENCHMARKS.md at the repository root, unless ``--quick`` or ``--no-write``.

    python benchmarks/core_throughput.py            # ~2-3 minutes on 2 cores
    python benchmarks/core_throughput.py --quick    # smoke run, writes nothing
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import torch
from report import check_minimums, provenance, write_section
from torch import Tensor, nn

from neurorl.cli import OneLineParser
from neurorl.core.layers import lif_layer
from neurorl.core.lif import LIFParameters
from neurorl.core.surrogate import Surrogate

TITLE = "Core throughput"

BETA, THRESHOLD, SLOPE, INPUT_RATE = 0.9, 1.0, 25.0, 0.1
MODES = ("fwd", "fwd+bwd")

Runner = Callable[[Tensor, bool], float]  # (inputs, train) -> spike count


def _layer_weights(n_in: int, n_out: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights [in, out] that make the layer fire at a moderate rate (~10-20%)."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(n_in, n_out, generator=generator) * (0.6 / (INPUT_RATE * n_in) ** 0.5)
    bias = torch.full((n_out,), 0.05)
    return weight, bias


def make_neurorl(weight: torch.Tensor, bias: torch.Tensor) -> Runner:
    w = weight.clone().requires_grad_()
    b = bias.clone().requires_grad_()
    params = LIFParameters(BETA, THRESHOLD, "soft", 0.0, Surrogate("fast_sigmoid", SLOPE))

    def run(x: torch.Tensor, train: bool) -> float:
        if not train:
            with torch.no_grad():
                return float(lif_layer(x, w, b, params)[0].sum())
        spikes, _ = lif_layer(x, w, b, params)
        loss = spikes.sum()
        loss.backward()
        w.grad = b.grad = None
        return float(loss.detach())

    return run


def _drives(fc: nn.Linear, x: Tensor, hoisted: bool) -> Iterator[Tensor]:
    """Each step's input current: from one product over all steps (hoisted) or per step."""
    if hoisted:
        yield from fc(x).unbind(0)
    else:
        for x_t in x.unbind(0):
            yield fc(x_t)


def _peer_runner(simulate: Callable[[Tensor], Tensor], module: nn.Module) -> Runner:
    """A peer's :data:`Runner`: its spikes ``simulate(x) [T, B, N]`` summed, with a backward
    pass through ``module``'s weights when training."""

    def run(x: Tensor, train: bool) -> float:
        if not train:
            with torch.no_grad():
                return float(simulate(x).sum())
        loss = simulate(x).sum()
        loss.backward()
        module.zero_grad(set_to_none=True)
        return float(loss.detach())

    return run


def make_snntorch(weight: torch.Tensor, bias: torch.Tensor, hoisted: bool) -> Runner:
    import snntorch as snn
    from snntorch import surrogate

    fc = nn.Linear(*weight.shape)
    with torch.no_grad():
        fc.weight.copy_(weight.T)
        fc.bias.copy_(bias)
    lif = snn.Leaky(
        beta=BETA,
        threshold=THRESHOLD,
        spike_grad=surrogate.fast_sigmoid(slope=SLOPE),
        reset_mechanism="subtract",
        reset_delay=False,
    )

    def simulate(x: torch.Tensor) -> torch.Tensor:
        mem = lif.init_leaky()
        spikes = []
        for drive in _drives(fc, x, hoisted):
            spk, mem = lif(drive, mem)
            spikes.append(spk)
        return torch.stack(spikes)

    return _peer_runner(simulate, fc)


def make_norse(weight: torch.Tensor, bias: torch.Tensor, hoisted: bool) -> Runner:
    import norse.torch as norse
    from norse.torch.functional.reset import reset_subtract

    dt_s = 1e-3
    tau = dt_s / (1 - BETA)  # Norse: v += dt/tau (i - v) = beta v + (1 - beta) i
    fc = nn.Linear(*weight.shape)
    with torch.no_grad():  # scale the drive by 1 / (1 - beta): the same dynamics as neurorl
        fc.weight.copy_(weight.T / (1 - BETA))
        fc.bias.copy_(bias / (1 - BETA))
    cell = norse.LIFBoxCell(
        norse.LIFBoxParameters(
            tau_mem_inv=torch.as_tensor(1 / tau),
            v_th=torch.as_tensor(THRESHOLD),
            method="super",
            alpha=torch.as_tensor(SLOPE),
            reset_method=reset_subtract,
        ),
        dt=dt_s,
    )

    def simulate(x: torch.Tensor) -> torch.Tensor:
        state = None
        spikes = []
        for drive in _drives(fc, x, hoisted):
            z, state = cell(drive, state)
            spikes.append(z)
        return torch.stack(spikes)

    return _peer_runner(simulate, fc)


def versions() -> dict[str, str]:
    found = {"torch": torch.__version__}
    for name in ("snntorch", "norse"):
        try:
            module = __import__(name)
            found[name] = getattr(module, "__version__", "?")
        except Exception as error:  # Norse fails in several ways when half-installed
            found[name] = f"not importable ({type(error).__name__}: {error})".splitlines()[0]
    return found


def time_once(run: Runner, x: Tensor, train: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU/wall far below the thread count
    means the cores were busy with something else."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    run(x, train)
    return time.perf_counter() - start, time.process_time() - cpu


def benchmark(args: argparse.Namespace) -> tuple[dict, dict]:
    torch.set_flush_denormal(True)
    weight, bias = _layer_weights(args.neurons, args.neurons, seed=0)
    generator = torch.Generator().manual_seed(1)
    x = (torch.rand(args.steps, args.batch, args.neurons, generator=generator) < INPUT_RATE).float()
    found = versions()
    load_start = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"
    makers = {
        "neurorl": make_neurorl,
        "snnTorch hoisted": functools.partial(make_snntorch, hoisted=True),
        "snnTorch per step": functools.partial(make_snntorch, hoisted=False),
        "Norse hoisted": functools.partial(make_norse, hoisted=True),
        "Norse per step": functools.partial(make_norse, hoisted=False),
    }
    runners: dict[str, Runner] = {}
    for name, make in makers.items():
        try:
            runners[name] = make(weight, bias)
        except ImportError as error:
            print(
                f"{name}: not importable ({error}); skipped "
                "(install: pip install nirtorch && pip install --no-deps norse)",
                file=sys.stderr,
            )

    # warm-up, and the spike rate of each implementation (similar work for all)
    rates = {}
    for name, run in runners.items():
        warm = x[: min(20, args.steps)]
        run(warm, True)
        rates[name] = run(x[: min(100, args.steps)], False) / (
            min(100, args.steps) * args.batch * args.neurons
        )
    updates = args.steps * args.batch * args.neurons
    best: dict[tuple[int, str, str], float] = {}
    names = list(runners)
    for threads in args.threads:
        torch.set_num_threads(threads)
        for repeat in range(args.repeats):
            order = names[repeat % len(names) :] + names[: repeat % len(names)]
            for mode in MODES:
                for name in order:
                    seconds, cpu = time_once(runners[name], x, mode == "fwd+bwd")
                    key = (threads, mode, name)
                    best[key] = min(best.get(key, float("inf")), seconds)
                    print(
                        f"threads={threads} repeat={repeat} {mode:8s} {name:8s} "
                        f"{seconds:7.3f} s  {updates / seconds / 1e6:6.1f} M/s  "
                        f"cpu/wall {cpu / seconds:4.2f}",
                        flush=True,
                    )
    figures = {key: updates / seconds / 1e6 for key, seconds in best.items()}
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"
    return figures, {
        "versions": found,
        "rates": rates,
        "names": names,
        "load_end": load,
        "load_start": load_start,
    }


def table(args: argparse.Namespace, figures: dict, info: dict) -> str:
    names = info["names"]
    peers = [n for n in names if n.endswith("hoisted")]
    head = ["threads", "mode", *[f"{n} (M/s)" for n in names]]
    if "neurorl" in names and peers:
        head.append(f"neurorl / max({', '.join(peers)})")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for threads in args.threads:
        for mode in MODES:
            row = [str(threads), mode, *[f"{figures[(threads, mode, n)]:.1f}" for n in names]]
            if "neurorl" in names and peers:
                fastest = max(figures[(threads, mode, n)] for n in peers)
                row.append(f"{figures[(threads, mode, 'neurorl')] / fastest:.2f}")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def section(args: argparse.Namespace, figures: dict, info: dict) -> str:
    found = info["versions"]
    rates = ", ".join(f"{n} {r:.3f}" for n, r in info["rates"].items())
    intro = textwrap.fill(
        f"One LIF layer: dense {args.neurons} -> {args.neurons} input map + {args.neurons} "
        f"LIF neurons (beta {BETA}, threshold {THRESHOLD}, reset by subtraction, fast-sigmoid "
        f"surrogate slope {SLOPE:g}), batch {args.batch}, {args.steps} time steps of "
        f"Bernoulli({INPUT_RATE}) input spikes, float32 on CPU. Millions of neuron-updates per "
        f"second (steps x batch x neurons / wall time), best of {args.repeats} interleaved "
        "repeats; fwd under `torch.no_grad()`, fwd+bwd = forward + backward of the spike sum "
        "to weight and bias.",
        width=92,
    )
    return f"""{intro}

{provenance()} at the end ({info["load_start"]} at the start)
- versions: torch {found["torch"]}, snntorch {found["snntorch"]}, norse {found["norse"]}
- output spike rate per neuron-step (first 100 steps): {rates}
- neurorl: `neurorl.core.layers.lif_layer` (one matrix product over all steps, fused time
  loop, one autograd node per sequence); snnTorch: `nn.Linear` + `snntorch.Leaky`
  (`reset_delay=False`); Norse: `nn.Linear` + `norse.torch.LIFBoxCell` (`reset_subtract`);
  each peer "hoisted" (the `nn.Linear` once over all steps, as neurorl) and "per step" (the
  tutorials' idiom); the ratio is against the faster hoisted peer.
  `torch.set_flush_denormal(True)` for all.
- on a machine whose cores are busy with other work the 2-thread figures collapse (a
  thread waiting for a busy core stalls each of the thousands of small per-step operations);
  trust them only when the load average stays below about 1 (the run prints cpu/wall per
  measurement)
- install for this benchmark: `pip install snntorch nirtorch && pip install --no-deps norse`
  (a plain `pip install norse` replaces the CPU torch with a CUDA build)

{table(args, figures, info)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="50 steps, 1 repeat, no write")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    check_minimums(parser, args, threads=1, steps=1, batch=1, neurons=1, repeats=1)
    if args.quick:
        args.steps, args.repeats = min(args.steps, 50), 1
    figures, info = benchmark(args)
    print()
    print(table(args, figures, info))
    if not (args.quick or args.no_write):
        print(
            f"\nwrote the section '{TITLE}' of {write_section(TITLE, section(args, figures, info))}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
