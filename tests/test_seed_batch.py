"""STDP-RL over a batch of seeds: K networks stepped as one tensor program, each member's run
the same as its seed's run alone, each with its own run folder."""

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY

from neurorl.core import configure_cpu
from neurorl.experiments.checkpoint import load_checkpoint
from neurorl.nets.cartpole_network import (
    CartPoleNetworkConfig,
    build_network,
    initial_state,
    run_window,
    stack_networks,
)
from neurorl.nets.cartpole_policy import connectivity_stream

STDP_RL = "cartpole-snn-stdprl"
# a few hundred env steps of one stage with a large rate (weights change within episodes),
# dt 2 ms, eager; homeostasis and validation often, so that every per-member path runs
SHORT = [
    "--set",
    "stages=[{env_steps: 250, window_ms: 5, lifetime_ms: 250, rate: 0.05, angvel_weight: 1.2, "
    "positive_bias: 2, opposite_factor: 0.9}]",
    *("--set", "net.compile=false", "--set", "net.network.dt_ms=2"),
    *("--set", "plasticity.normalize_every=5", "--set", "plasticity.gain_control_every=7"),
    *("--set", "train.validate_every=4", "--set", "train.validation_episodes=2"),
    *("--set", "eval.episodes=3", "--quiet"),
]


def test_a_stack_of_networks_spikes_as_each_network_alone():
    configure_cpu()
    config = CartPoleNetworkConfig(dt_ms=2.0)
    networks, weights = [], []
    for seed in (0, 1):
        generator = connectivity_stream(seed)
        networks.append(build_network(config, generator))
        weights.append(networks[-1].init_weights(1, generator))
    stack = stack_networks(networks)
    assert stack.members == 2 and networks[0].members is None
    assert not torch.equal(networks[0].modules[0].local, networks[1].modules[0].local)
    stacked_weights = type(weights[0])(*(torch.cat(w) for w in zip(*weights, strict=True)))
    assert torch.equal(stack.unflatten(stack.flatten(stacked_weights)).ea_em, stacked_weights.ea_em)
    states = [initial_state(network, 1, 1) for network in networks]
    state = initial_state(stack, 2, 1)
    generator = torch.Generator().manual_seed(0)
    spikes = 0.0
    for _ in range(40):
        obs = 0.2 * torch.randn(2, 1, 4, generator=generator)
        out = run_window(obs, state, stack, stacked_weights, record=True)
        state = out.state
        for k in (0, 1):
            alone = run_window(obs[k : k + 1], states[k], networks[k], weights[k], record=True)
            states[k] = alone.state
            assert torch.equal(alone.spikes[:, 0], out.spikes[:, k])
        spikes += float(out.spikes.sum())
    assert spikes > 100  # the comparison saw real activity


def _metrics(run: Path) -> str:
    return (run / "metrics.csv").read_text()


def test_each_member_of_a_batch_of_seeds_is_its_seed_run_alone(cli, tmp_path):
    code, lines, _ = cli(
        "train", STDP_RL, "--seeds", "2", "--seed", "4", "--out", tmp_path / "b", *SHORT
    )
    assert code == 0
    batch = sorted(Path(line) for line in lines)
    assert [path.name.rsplit("-", 1)[-1] for path in batch] == ["seed4", "seed5"]
    code, lines, _ = cli("train", STDP_RL, "--seed", "5", "--out", tmp_path / "a", *SHORT)
    assert code == 0
    alone = Path(lines[-1])
    assert _metrics(batch[1]) == _metrics(alone)
    assert _metrics(batch[0]) != _metrics(alone)  # its own seed: other episodes
    assert len(_metrics(alone).splitlines()) > 5
    for name in ("latest.pt", "best.pt"):
        mine, theirs = (load_checkpoint(run / "checkpoints" / name) for run in (batch[1], alone))
        flat = [(mine, theirs)]
        while flat:  # every tensor of the checkpoint: weights, network state, homeostasis
            a, b = flat.pop()
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                flat += [(a[key], b[key]) for key in a if key != "wall_seconds"]
            elif isinstance(a, torch.Tensor):
                assert torch.equal(a, b)
            else:
                assert a == b
    # the batch's elapsed time is shared: each run says how many seeds shared it
    trained = [json.loads((run / "results.json").read_text())["train"] for run in (*batch, alone)]
    assert [t["seeds_in_batch"] for t in trained] == [2, 2, 1]
    # a member's folder is an ordinary run: it evaluates (and resumes) alone
    code, lines, _ = cli("eval", batch[1], "--episodes", "2")
    assert code == 0 and "test mean return" in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((STDP_RL, "--seeds", "0"), "--seeds must be >= 1"),
        ((TINY, "--seeds", "2"), "trains one seed at a time"),
    ],
)
def test_a_bad_batch_of_seeds_is_one_line_and_writes_nothing(cli, tmp_path, args, message):
    code, _, err = cli("train", *args, "--out", tmp_path)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
