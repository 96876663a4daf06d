"""The INTF7-style cell of neurorl.core.conductance: closed forms and firing properties."""

import dataclasses
import math

import pytest
import torch

from neurorl.core import configure_cpu
from neurorl.core.conductance import (
    E_CELL,
    I_CELL,
    IL_CELL,
    CellType,
    SynapticDrive,
    cell_parameters,
    initial_state,
    membrane,
    step,
)

configure_cpu()

# E, I and IL cells without AHP, relative refractoriness or depolarisation block
PLAIN = {"ahp_weight_mv": 0.0, "rr_weight": 0.0, "block_mv": 500.0}


def drive(n: int, **receptors: float) -> SynapticDrive:
    """The same drive (mV) on every one of ``n`` cells; unnamed receptors get nothing."""
    return SynapticDrive(
        *(torch.full((1, n), receptors.get(name, 0.0)) for name in SynapticDrive._fields)
    )


def run(params, drives, state=None):
    """Spikes ``[T, 1, n]`` and membranes ``[T, 1, n]`` for a list of drives."""
    spikes, potentials = [], []
    for x in drives:
        z, state = step(x, state, params)
        spikes.append(z)
        potentials.append(membrane(state, params))
    return torch.stack(spikes), torch.stack(potentials)


def spike_steps(spikes: torch.Tensor, neuron: int = 0) -> torch.Tensor:
    return spikes[:, 0, neuron].nonzero().flatten()


def test_one_ampa_spike_gives_an_exponential_psp():
    params = cell_parameters([E_CELL, I_CELL, IL_CELL], [1, 1, 1], dt_ms=1.0)
    drives = [drive(3, ampa=10.0)] + [drive(3)] * 40
    spikes, v = run(params, drives)
    assert spikes.sum() == 0  # 10 mV stays below every threshold
    k = torch.arange(41, dtype=torch.float32)
    expected = 10.0 * torch.exp(-k / E_CELL.tau_ampa_ms)  # rest + w exp(-t / tau)
    for i, rest in enumerate((E_CELL.rest_mv, I_CELL.rest_mv, IL_CELL.rest_mv)):
        torch.testing.assert_close(v[:, 0, i] - rest, expected)


def test_driving_force_nmda_block_and_gaba_reversal():
    params = cell_parameters([E_CELL], [1], dt_ms=1.0)
    # NMDA at rest is mostly blocked by Mg2+: the jump is w / (1 + exp(0.062 * 65) 1.6/3.57)
    _, v = run(params, [drive(1, nmda=1.0)])
    unblock = 1.0 / (1.0 + math.exp(0.062 * 65.0) * 1.6 / 3.57)
    assert v[0, 0, 0].item() + 65.0 == pytest.approx(unblock, abs=1e-5)
    # AMPA on a depolarised cell is scaled by 1 - u / 65
    state = initial_state((1,), params)._replace(ampa=torch.full((1, 1), 13.0))
    _, v = run(params, [drive(1, ampa=10.0)], state)
    u = 13.0 * math.exp(-1.0 / 20.0)
    assert v[0, 0, 0].item() + 65.0 == pytest.approx(u + 10.0 * (1 - u / 65.0), abs=1e-4)
    # GABA near rest: scaled by 1 - u / -15 mV; stops once beyond its reversal (-15 mV)
    _, v = run(params, [drive(1, gaba=10.0)] * 2)
    u = -10.0 * math.exp(-0.1)
    assert v[1, 0, 0].item() + 65.0 == pytest.approx(u - 10.0 * (1 + u / 15.0), abs=1e-4)
    _, v = run(params, [drive(1, gaba=20.0)] * 3)  # the first jump overshoots to -20 mV
    torch.testing.assert_close(v[:, 0, 0] + 65.0, -20.0 * torch.exp(-torch.arange(3.0) / 10))


def test_cell_types_in_one_tensor_program_have_their_own_thresholds():
    params = cell_parameters([E_CELL, I_CELL, IL_CELL], [1, 1, 1], dt_ms=1.0)
    # thresholds above rest: E 25, I 23, IL 18 mV
    spikes, _ = run(params, [drive(3, ampa=20.0)])
    assert spikes[0, 0].tolist() == [0.0, 0.0, 1.0]
    spikes, _ = run(params, [drive(3, ampa=24.0)])
    assert spikes[0, 0].tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize(("cell", "dt"), [(E_CELL, 1.0), (I_CELL, 1.0), (I_CELL, 0.5)])
def test_refractory_period_limits_the_rate(cell, dt):
    plain = cell_parameters([dataclasses.replace(cell, **PLAIN)], [1], dt_ms=dt)
    steps = round(1000 / dt)
    spikes, _ = run(plain, [drive(1, ampa=40.0)] * steps)
    isi = spike_steps(spikes).diff() * dt
    assert isi.min() >= cell.refractory_ms
    # refractory period rounded to whole steps (2.5 ms at dt 1 ms: 3 steps)
    assert spikes.sum().item() == pytest.approx(
        1000 / (math.ceil(cell.refractory_ms / dt) * dt), abs=1
    )
    # the paper's cell under strong drive: never two spikes within t_ref
    paper = cell_parameters([cell], [1], dt_ms=dt)
    spikes, _ = run(paper, [drive(1, ampa=3.0)] * steps)
    assert spikes.sum() > 5
    assert (spike_steps(spikes).diff() * dt).min() >= cell.refractory_ms


def test_ahp_lowers_the_rate_under_constant_drive():
    params = cell_parameters([E_CELL, dataclasses.replace(E_CELL, ahp_weight_mv=0.0)], [1, 1], 1.0)
    spikes, _ = run(params, [drive(2, ampa=3.0)] * 2000)
    early, late = spikes[:300, 0].sum(0), spikes[-300:, 0].sum(0)
    assert late[0] < 0.75 * early[0]  # adapting E cell
    assert abs(late[1] - early[1]) <= 2  # without AHP the rate stays


def test_depolarisation_block_silences_an_overdriven_cell():
    params = cell_parameters([E_CELL], [1], dt_ms=1.0)
    spikes, v = run(params, [drive(1, ampa=15.0)] * 200)
    assert v[-1, 0, 0] > E_CELL.block_mv
    assert spikes[50:].sum() == 0  # held above the block: silent
    assert spikes.sum() <= 2  # at most on the way up


def test_no_input_no_spike_and_state_shapes():
    params = cell_parameters([E_CELL, I_CELL], [3, 2], dt_ms=1.0)
    x = SynapticDrive(*(torch.zeros(4, 2, 5) for _ in range(4)))
    z, state = step(x, None, params)
    assert z.shape == (4, 2, 5) and z.sum() == 0
    assert all(t.shape == (4, 2, 5) for t in state)


@pytest.mark.parametrize(
    ("field", "value"),
    [("tau_ampa_ms", 0.0), ("refractory_ms", -1.0), ("threshold_mv", -70.0), ("rest_mv", math.nan)],
)
def test_impossible_cell_types_raise(field, value):
    with pytest.raises(ValueError, match=field):
        CellType(**{field: value})
