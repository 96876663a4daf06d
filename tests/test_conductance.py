"""The INTF7-style cell of neurorl.core.conductance against closed forms and a scalar reference.

The reference (:class:`ReferenceCell`) is written from the module docstring's equations, in
plain Python floats, independently of the tensor code; the other tests check single features
against closed forms.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from neurorl.core import configure_cpu
from neurorl.core.conductance import (
    E_CELL,
    I_CELL,
    IL_CELL,
    CellState,
    CellType,
    SynapticDrive,
    ampa_log_factor,
    cell_parameters,
    compose_ampa,
    initial_state,
    membrane,
    step,
)

configure_cpu()

RECEPTORS = SynapticDrive._fields  # ampa, nmda, gaba, gaba_slow
PAPER_CELLS = {"E": E_CELL, "I": I_CELL, "IL": IL_CELL}
# a cell without AHP, relative refractoriness or depolarisation block: only t_ref limits it
BARE = {"ahp_weight_mv": 0.0, "rr_weight": 0.0, "block_mv": 1000.0}
F64 = torch.float64


def unblock(v_mv: float) -> float:
    """Jahr & Stevens Mg2+ unblock at membrane potential ``v_mv`` (mV), [Mg] = 1.6 mM."""
    return 1.0 / (1.0 + math.exp(-0.062 * v_mv) * 1.6 / 3.57)


def drive(n: int = 1, dtype: torch.dtype = F64, **weights: float) -> SynapticDrive:
    """The same weights (mV) on all ``n`` cells, shape ``[1, n]``; missing receptors get 0."""
    return SynapticDrive(*(torch.full((1, n), weights.get(r, 0.0), dtype=dtype) for r in RECEPTORS))


def run(params, drives, state=None):
    """``(spikes [T, n], V [T, n], states)`` of the first batch row for a list of drives."""
    spikes, potentials, states = [], [], []
    for x in drives:
        z, state = step(x, state, params)
        spikes.append(z[0])
        potentials.append(membrane(state, params)[0])
        states.append(state)
    return torch.stack(spikes), torch.stack(potentials), states


def trace(states, name: str, neuron: int = 0) -> torch.Tensor:
    return torch.stack([getattr(s, name)[0, neuron] for s in states])


def at(params, **traces: float) -> CellState:
    """A state ``[1, n]`` with the given synaptic potentials / AHP (mV), the rest at 0."""
    state = initial_state((1,), params)
    return state._replace(**{k: torch.full_like(state.ampa, v) for k, v in traces.items()})


def steps_of(spikes: torch.Tensor, neuron: int = 0) -> list[int]:
    return spikes[:, neuron].nonzero().flatten().tolist()


# --- single inputs: closed forms ------------------------------------------------------------


@pytest.mark.parametrize("dt", [1.0, 0.5, 0.25])
def test_one_ampa_spike_gives_an_exact_exponential_with_each_cells_tau(dt):
    fast = dataclasses.replace(E_CELL, tau_ampa_ms=10.0)
    cells = [E_CELL, I_CELL, IL_CELL, fast]
    params = cell_parameters(cells, [1, 1, 1, 1], dt, dtype=F64)
    steps = round(60 / dt)
    spikes, v, states = run(params, [drive(4, ampa=12.0)] + [drive(4)] * steps)
    assert spikes.sum() == 0  # 12 mV stays below every threshold (>= 18 mV above rest)
    t_ms = dt * torch.arange(steps + 1, dtype=F64)
    for j, cell in enumerate(cells):
        expected = 12.0 * torch.exp(-t_ms / cell.tau_ampa_ms)  # from rest: no driving-force loss
        torch.testing.assert_close(trace(states, "ampa", j), expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(v[:, j], cell.rest_mv + expected, rtol=1e-12, atol=1e-12)
        for other in ("nmda", "gaba", "gaba_slow", "ahp"):
            assert (trace(states, other, j) == 0).all()
    # exact decays, not Euler: the potential 20 ms after the input is w / e for tau 20 ms
    assert v[round(20 / dt), 0].item() + 65.0 == pytest.approx(12.0 / math.e, rel=1e-12)


@pytest.mark.parametrize(
    ("receptor", "tau", "sign", "gain"),
    [
        ("ampa", 20.0, +1, 1.0),
        ("nmda", 300.0, +1, unblock(-65.0)),  # at rest NMDA is ~96% Mg2+-blocked
        ("gaba", 10.0, -1, 1.0),
        ("gaba_slow", 20.0, -1, 1.0),
    ],
)
def test_each_receptor_has_its_sign_and_time_constant(receptor, tau, sign, gain):
    params = cell_parameters([E_CELL], [1], 1.0, dtype=F64)
    w = 10.0
    spikes, v, _ = run(params, [drive(**{receptor: w})] + [drive()] * 100)
    assert spikes.sum() == 0
    psp = v[:, 0] - E_CELL.rest_mv
    expected = sign * w * gain * torch.exp(-torch.arange(101, dtype=F64) / tau)
    torch.testing.assert_close(psp, expected, rtol=1e-12, atol=1e-12)
    assert (sign * psp > 0).all()  # AMPA/NMDA depolarise, GABA hyperpolarises


def test_driving_forces_reversal_limits_and_the_clip():
    e = cell_parameters([E_CELL], [1], 1.0, dtype=F64)
    a = math.exp(-1 / 20)  # one step of AMPA decay
    # AMPA onto a cell 13 mV above rest: scaled by 1 - u / 65 (u after this step's decay)
    _, v, _ = run(e, [drive(ampa=10.0)], at(e, ampa=13.0))
    u = 13.0 * a
    assert v[0, 0].item() + 65 == pytest.approx(u + 10.0 * (1 - u / 65), abs=1e-12)
    # GABA onto a cell 10 mV below rest: scaled by 1 - u / -15 (weaker near its reversal)
    _, v, _ = run(e, [drive(gaba=10.0)], at(e, gaba=-10.0))
    u = -10.0 * math.exp(-0.1)
    assert v[0, 0].item() + 65 == pytest.approx(u - 10.0 * (1 + u / 15), abs=1e-12)
    # a GABA potential beyond its reversal (-15 mV) takes no more GABA
    _, v, states = run(e, [drive(gaba=20.0)] * 3)  # the first jump overshoots to -20 mV
    expected = -20.0 * torch.exp(-torch.arange(3, dtype=F64) / 10)
    torch.testing.assert_close(trace(states, "gaba"), expected, rtol=1e-12, atol=1e-12)
    # the same for slow GABA, and for NMDA at its reversal (+90 mV)
    _, _, states = run(e, [drive(gaba_slow=5.0)], at(e, gaba_slow=-16.0))
    assert trace(states, "gaba_slow")[0].item() == pytest.approx(-16.0 * a, abs=1e-12)
    _, _, states = run(e, [drive(nmda=5.0)], at(e, nmda=95.0))
    assert trace(states, "nmda")[0].item() == pytest.approx(95.0 * math.exp(-1 / 300), abs=1e-12)
    # u is clipped to |rest|: E (rest -65) at +100 mV takes no AMPA, I (rest -63) 1 - 63/65
    both = cell_parameters([E_CELL, I_CELL], [1, 1], 1.0, dtype=F64)
    _, _, states = run(both, [drive(2, ampa=10.0)], at(both, ampa=100.0 / a))
    assert trace(states, "ampa", 0)[0].item() == pytest.approx(100.0, abs=1e-9)
    assert trace(states, "ampa", 1)[0].item() == pytest.approx(100.0 + 10 * (2 / 65), abs=1e-9)


@pytest.mark.parametrize("start", [-20.0, 0.0, 13.0, 40.0])
def test_composed_ampa_events_equal_intf7_adding_them_one_after_another(start):
    """INTF7 adds each event with the driving force the ones before it left (u <- u + w (1 -
    u / 65)); compose_ampa of the summed log factors gives the same in one step, in any order."""
    weights = torch.tensor([6.5, 3.2, 9.7, 5.85, 12.0], dtype=F64)
    e = cell_parameters([E_CELL], [1], 1.0, dtype=F64)
    u = start * math.exp(-1 / 20)  # the cell's AMPA potential after this step's decay
    one_by_one = u
    for w in weights.flip(0).tolist():
        one_by_one += w * (1 - one_by_one / 65)
    composed = compose_ampa(ampa_log_factor(weights).sum())
    _, _, states = run(e, [drive(ampa=composed.item())], at(e, ampa=start))
    assert trace(states, "ampa")[0].item() == pytest.approx(one_by_one, abs=1e-9)
    # below the plain sum (5 x 6.5 mV from rest: 26.6 against 32.5 mV); one event: its weight
    five = compose_ampa(5 * ampa_log_factor(torch.tensor(6.5, dtype=F64))).item()
    assert five == pytest.approx(65 * (1 - 0.9**5), abs=1e-12)
    assert compose_ampa(ampa_log_factor(torch.tensor(7.25, dtype=F64))).item() == pytest.approx(
        7.25
    )
    # no synapse: factor 0; w >= E_AMPA takes the cell to the reversal potential
    assert ampa_log_factor(torch.tensor(0.0)).item() == 0.0
    assert compose_ampa(ampa_log_factor(torch.tensor([80.0, 3.0])).sum()).item() == pytest.approx(
        65.0, abs=1e-3
    )


def test_nmda_mg_unblock_grows_with_depolarisation():
    params = cell_parameters([E_CELL], [1], 1.0, dtype=F64)
    jumps = []
    for u in (0.0, 30.0):  # cell at rest, and 30 mV above it (held by AMPA)
        _, _, states = run(params, [drive(nmda=2.0)], at(params, ampa=u / math.exp(-1 / 20)))
        jumps.append(trace(states, "nmda")[0].item())
        expected = 2.0 * (1 - u / 90) * unblock(-65.0 + u)
        assert jumps[-1] == pytest.approx(expected, rel=1e-12)
    assert jumps[1] > 3 * jumps[0]  # unblock x5.3 outweighs the driving force x2/3


# --- the whole cell against the docstring's equations --------------------------------------


class ReferenceCell:
    """One cell stepped by the module docstring's equations, in Python floats.

    The relative refractoriness is written the INTF7 way: the threshold raise is
    ``rr_weight (block - threshold)`` through the absolute refractory period and relaxes with
    ``tau_rr`` afterwards; the absolute period is ``t_ref`` rounded to whole steps.
    """

    def __init__(self, cell: CellType, dt: float):
        self.cell, self.dt = cell, dt
        self.tau = {
            "ampa": cell.tau_ampa_ms,
            "nmda": cell.tau_nmda_ms,
            "gaba": cell.tau_gaba_ms,
            "gaba_slow": cell.tau_gaba_slow_ms,
        }
        self.s = dict.fromkeys(RECEPTORS, 0.0)
        self.ahp, self.t, self.last_spike = 0.0, -1, None
        self.seen = dict.fromkeys(("spike", "absolute", "relative", "block", "reversal"), 0)

    def step(self, x: dict[str, float]) -> tuple[bool, float]:
        c, dt, s = self.cell, self.dt, self.s
        self.t += 1
        for r in RECEPTORS:
            s[r] *= math.exp(-dt / self.tau[r])
        self.ahp *= math.exp(-dt / c.tau_ahp_ms)
        rest = c.rest_mv
        u = min(max(sum(s.values()) + self.ahp, -abs(rest)), abs(rest))
        s["ampa"] += x["ampa"] * (1 - u / 65.0)
        if s["nmda"] < 90.0:
            s["nmda"] += x["nmda"] * (1 - u / 90.0) * unblock(rest + u)
        for r in ("gaba", "gaba_slow"):
            if s[r] > -15.0:
                s[r] = min(0.0, s[r] - x[r] * (1 - u / -15.0))
            elif x[r]:
                self.seen["reversal"] += 1
        v = rest + sum(s.values()) + self.ahp
        raise_mv, free = 0.0, True
        if self.last_spike is not None:
            elapsed = (self.t - self.last_spike) * dt
            free = self.t - self.last_spike >= math.floor(c.refractory_ms / dt + 0.5)
            relax = math.exp(-max(0.0, elapsed - c.refractory_ms) / c.tau_rr_ms)
            raise_mv = c.rr_weight * (c.block_mv - c.threshold_mv) * relax
        arrived = any(value > 0 for value in x.values())
        above = v > c.threshold_mv + raise_mv
        unblocked = min(rest + u, v) <= c.block_mv
        if arrived and v > c.threshold_mv:  # which rule kept a cell above threshold silent
            if not free:
                self.seen["absolute"] += 1
            elif not above:
                self.seen["relative"] += 1
            elif not unblocked:
                self.seen["block"] += 1
        fire = arrived and free and above and unblocked
        if fire:
            self.ahp -= c.ahp_weight_mv
            self.last_spike = self.t
            self.seen["spike"] += 1
        return fire, rest + sum(s.values()) + self.ahp


def random_drives(steps: int, n: int, dt: float, generator: torch.Generator) -> torch.Tensor:
    """``[steps, 4, n]`` random arrivals (mV) whose excitation swings between weak and
    overdriving (depolarisation block) with a 600-ms period, inhibition in antiphase."""
    t = dt * torch.arange(steps, dtype=F64).view(-1, 1)
    phase = 2 * math.pi * torch.rand(1, n, generator=generator, dtype=F64)
    level = 0.5 + 0.5 * torch.sin(2 * math.pi * t / 600 + phase)

    def arrivals(p, scale):
        hit = torch.rand(steps, n, generator=generator, dtype=F64) < p * dt
        return hit * scale * torch.rand(steps, n, generator=generator, dtype=F64)

    return torch.stack(
        [
            arrivals(0.15 + 0.6 * level, 1.0 + 12.0 * level),
            arrivals(0.3, 40.0),
            arrivals(0.2 * (1 - level), 25.0),
            arrivals(0.05, 15.0),
        ],
        dim=1,
    )


@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_paper_cells_follow_the_documented_equations(dt):
    cells = [E_CELL, E_CELL, I_CELL, I_CELL, IL_CELL, IL_CELL]
    params = cell_parameters([E_CELL, I_CELL, IL_CELL], [2, 2, 2], dt, dtype=F64)
    steps = round(1200 / dt)
    x = random_drives(steps, len(cells), dt, torch.Generator().manual_seed(0))
    spikes, v, _ = run(params, [SynapticDrive(*x[k].unsqueeze(1)) for k in range(steps)])
    references = [ReferenceCell(cell, dt) for cell in cells]
    expected_spikes = torch.zeros(steps, len(cells), dtype=F64)
    expected_v = torch.zeros(steps, len(cells), dtype=F64)
    for k in range(steps):
        for j, cell in enumerate(references):
            fired, potential = cell.step(dict(zip(RECEPTORS, x[k, :, j].tolist(), strict=True)))
            expected_spikes[k, j], expected_v[k, j] = float(fired), potential
    assert torch.equal(spikes, expected_spikes)
    torch.testing.assert_close(v, expected_v, rtol=0, atol=1e-9)
    # the drive reached every rule: spikes, and a cell above threshold kept silent by the
    # absolute and the relative refractory period and by the block; GABA at its reversal
    for cell in references:
        assert cell.seen["spike"] >= 40 and cell.seen["absolute"] > 0 and cell.seen["block"] > 0
        assert cell.seen["reversal"] > 0
    assert all(cell.seen["relative"] > 0 for cell in references[:2])  # the E cells


# --- refractoriness, relative refractoriness, AHP, block --------------------------------------


@pytest.mark.parametrize(
    ("t_ref", "dt", "isi_steps"),
    [(5.0, 1.0, 5), (2.5, 1.0, 3), (2.5, 0.5, 5), (2.4, 1.0, 2), (2.6, 1.0, 3), (5.0, 0.25, 20)],
)
def test_absolute_refractory_period_in_whole_steps(t_ref, dt, isi_steps):
    """Half-way rounds up (2.5 ms at dt 1 is 3 steps), as the docstring says."""
    cell = dataclasses.replace(E_CELL, refractory_ms=t_ref, **BARE)
    params = cell_parameters([cell], [1], dt, dtype=F64)
    spikes, _, _ = run(params, [drive(ampa=40.0)] * round(200 / dt))
    times = steps_of(spikes)
    assert times[0] == 0  # 40 mV from rest: above threshold at once
    assert set(torch.tensor(times).diff().tolist()) == {isi_steps}


@pytest.mark.parametrize("name", ["E", "I", "IL"])
@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_paper_cells_never_fire_within_their_refractory_period(name, dt):
    cell = PAPER_CELLS[name]
    # per-ms AMPA drives (one cell each) from above rheobase to strong; E cells go into
    # depolarisation block beyond ~6 mV per ms
    strengths = [3.0, 4.0, 5.0, 6.0] if name == "E" else [2.0, 4.0, 8.0, 12.0]
    n = len(strengths)
    params = cell_parameters([cell], [n], dt, dtype=F64)
    x = torch.tensor(strengths, dtype=F64).view(1, n) * dt
    zero = torch.zeros_like(x)
    spikes, _, _ = run(params, [SynapticDrive(x, zero, zero, zero)] * round(1000 / dt))
    for j in range(n):
        isi_ms = torch.tensor(steps_of(spikes, j), dtype=F64).diff() * dt
        assert len(isi_ms) > 5, strengths[j]
        assert isi_ms.min() >= cell.refractory_ms - 1e-9
    fastest = float(spikes.sum(0).max())  # spikes in 1 s: Hz
    assert fastest <= 1000 / cell.refractory_ms
    assert fastest >= 0.5 * 1000 / cell.refractory_ms  # the bound is approached: not vacuous


@pytest.mark.parametrize(("name", "dt", "k"), [("E", 1.0, 5), ("E", 1.0, 7), ("I", 1.0, 3)])
def test_relative_refractoriness_raises_the_threshold_as_in_intf7(name, dt, k):
    """After a spike INTF7's threshold is VTH + RRWght (Vblock - VTH) at the end of t_ref and
    relaxes with tau_rr from there: an input ``k`` steps after a spike fires iff it lifts V
    above that (AHP off so that V is known in closed form)."""
    cell = dataclasses.replace(PAPER_CELLS[name], ahp_weight_mv=0.0)
    params = cell_parameters([cell], [1], dt, dtype=F64)
    band = cell.block_mv - cell.threshold_mv
    elapsed = k * dt
    raised = cell.threshold_mv + cell.rr_weight * band * math.exp(
        -(elapsed - cell.refractory_ms) / cell.tau_rr_ms
    )
    kick = (cell.threshold_mv - cell.rest_mv) + 1.0  # fires from rest, 1 mV above threshold
    u = kick * math.exp(-elapsed / cell.tau_ampa_ms)  # left of it k steps later
    for margin, fires in ((-0.05, False), (0.05, True)):
        target = raised + margin - cell.rest_mv
        x = (target - u) / (1 - u / 65.0)  # the AMPA jump landing V exactly on target
        drives = [drive(ampa=kick)] + [drive()] * (k - 1) + [drive(ampa=x)]
        spikes, v, _ = run(params, drives)
        assert v[k, 0].item() == pytest.approx(raised + margin, abs=1e-9)
        assert steps_of(spikes) == ([0, k] if fires else [0]), margin
    # without relative refractoriness the lower of the two inputs fires as well
    plain = cell_parameters([dataclasses.replace(cell, rr_weight=0.0)], [1], dt, dtype=F64)
    target = raised - 0.05 - cell.rest_mv
    x = (target - u) / (1 - u / 65.0)
    spikes, _, _ = run(plain, [drive(ampa=kick)] + [drive()] * (k - 1) + [drive(ampa=x)])
    assert steps_of(spikes) == [0, k]


def test_ahp_makes_an_e_cell_adapt_under_constant_drive():
    no_ahp = dataclasses.replace(E_CELL, ahp_weight_mv=0.0)
    params = cell_parameters([E_CELL, no_ahp], [1, 1], 1.0, dtype=F64)
    spikes, _, states = run(params, [drive(2, ampa=3.0)] * 2000)
    isi = torch.tensor(steps_of(spikes, 0)).diff()
    assert len(isi) > 30
    assert isi[-10:].float().mean() > 2 * isi[:3].float().mean()  # 11 ms -> ~28 ms
    assert spikes[-300:, 0].sum() < 0.7 * spikes[:300, 0].sum()  # 11 vs 18 spikes
    # the AHP is -w sum_k exp(-(t - t_k) / tau_ahp) over the spikes so far
    t = torch.arange(2000, dtype=F64)
    times = torch.tensor(steps_of(spikes, 0), dtype=F64)
    lag = t.view(-1, 1) - times.view(1, -1)
    expected = -(torch.exp(-lag / 400.0) * (lag >= 0)).sum(1)
    torch.testing.assert_close(trace(states, "ahp", 0), expected, rtol=1e-9, atol=1e-9)
    # without AHP the rate settles: the intervals of the second second are all equal (+-1 step)
    steady = torch.tensor(steps_of(spikes[1000:], 1)).diff()
    assert len(steady) > 20 and steady.max() - steady.min() <= 1
    assert (trace(states, "ahp", 1) == 0).all()


def test_no_reset_a_spike_leaves_the_synaptic_potentials_alone():
    silent = dataclasses.replace(E_CELL, **{**BARE, "threshold_mv": 900.0})  # unreachable
    firing = dataclasses.replace(E_CELL, **BARE)
    params = cell_parameters([firing, silent], [1, 1], 1.0, dtype=F64)
    spikes, v, _ = run(params, [drive(2, ampa=2.0, nmda=1.0)] * 500)
    assert spikes[:, 0].sum() > 10 and spikes[:, 1].sum() == 0
    torch.testing.assert_close(v[:, 0], v[:, 1], rtol=0, atol=1e-12)


def test_threshold_is_tested_only_when_an_input_arrives():
    params = cell_parameters([E_CELL], [1], 1.0, dtype=F64)
    held = at(params, ampa=35.0)  # 33.3 mV above rest after one step: over threshold, no input
    spikes, v, _ = run(params, [drive()] * 5, held)
    assert spikes.sum() == 0 and v[-1, 0] > E_CELL.threshold_mv
    spikes, _, _ = run(params, [drive()] * 4 + [drive(ampa=1e-3)], held)
    assert steps_of(spikes) == [4]  # any input at all tests the threshold


def test_depolarisation_block():
    params = cell_parameters([E_CELL], [1], 1.0, dtype=F64)
    # a cell held above the block (-25 mV) stays silent while inputs keep arriving ...
    spikes, v, _ = run(params, [drive(ampa=15.0)] * 200)
    assert steps_of(spikes) == [1]  # on the way up (25.97 mV above rest at step 1)
    assert (v[10:, 0] > E_CELL.block_mv).all()
    # ... an input onto a cell 43 mV above rest does not fire; with the block lifted it does
    for block_mv, expected in ((-25.0, []), (0.0, [0])):
        cell = dataclasses.replace(E_CELL, block_mv=block_mv)
        p = cell_parameters([cell], [1], 1.0, dtype=F64)
        spikes, v, _ = run(p, [drive(ampa=1.0)], at(p, ampa=45.0))
        assert v[0, 0] > -25.0
        assert steps_of(spikes) == expected
    # documented simplification: one jump from rest over the whole band still fires
    spikes, v, _ = run(params, [drive(ampa=45.0)])
    assert v[0, 0] > E_CELL.block_mv and steps_of(spikes) == [0]
    # back below the block (decay), the cell fires on its next input
    spikes, v, _ = run(params, [drive()] * 4 + [drive(ampa=0.1)], at(params, ampa=45.0))
    assert E_CELL.threshold_mv < v[-1, 0] < E_CELL.block_mv and steps_of(spikes) == [4]


# --- per-neuron parameters, batching, shapes -----------------------------------------------


@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_mixed_cell_types_in_one_tensor_equal_each_type_alone(dt):
    """E, I and IL cells (2 each) in one program vs each type on its own, same drives, with
    leading dims [P=2, B=3]."""
    steps = round(600 / dt)
    x = random_drives(steps, 2 * 3 * 2, dt, torch.Generator().manual_seed(1)).float()
    x = x.view(steps, 4, 2, 3, 2)  # [T, receptor, P, B, 2 cells]
    mixed = cell_parameters([E_CELL, I_CELL, IL_CELL], [2, 2, 2], dt)
    whole = torch.cat([x, x, x], dim=-1)  # each type gets the same drives
    state, out = None, []
    for k in range(steps):
        z, state = step(SynapticDrive(*whole[k]), state, mixed)
        out.append(z)
    out = torch.stack(out)
    per_type = []
    for j, cell in enumerate((E_CELL, I_CELL, IL_CELL)):
        alone = cell_parameters([cell], [2], dt)
        state, spikes = None, []
        for k in range(steps):
            z, state = step(SynapticDrive(*x[k]), state, alone)
            spikes.append(z)
        spikes = torch.stack(spikes)
        assert torch.equal(out[..., 2 * j : 2 * j + 2], spikes), cell
        per_type.append(spikes)
    assert all(s.sum() > 50 for s in per_type)
    # the types differ on the same drive, so a mix-up of their parameters would show
    assert not torch.equal(per_type[0], per_type[1]) and not torch.equal(per_type[1], per_type[2])


def test_state_shapes_and_no_input_no_spike():
    params = cell_parameters([E_CELL, I_CELL], [3, 2], dt_ms=1.0)
    x = SynapticDrive(*(torch.zeros(4, 2, 5) for _ in RECEPTORS))
    z, state = step(x, None, params)
    assert z.shape == (4, 2, 5) and z.dtype == torch.float32 and z.sum() == 0
    assert all(t.shape == (4, 2, 5) and (t == 0).all() for t in state)
    assert torch.equal(membrane(state, params)[0, 0], torch.tensor([-65.0] * 3 + [-63.0] * 2))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tau_ampa_ms", 0.0),
        ("tau_ahp_ms", -1.0),
        ("refractory_ms", -1.0),
        ("ahp_weight_mv", -0.5),
        ("rr_weight", -0.1),
        ("threshold_mv", -70.0),  # below rest
        ("block_mv", -45.0),  # below threshold
        ("rest_mv", math.nan),
    ],
)
def test_impossible_cell_types_raise(field, value):
    with pytest.raises(ValueError, match=field):
        CellType(**{field: value})


def test_cell_parameters_rejects_bad_dt_and_counts():
    with pytest.raises(ValueError, match="dt"):
        cell_parameters([E_CELL], [1], 0.0)
    with pytest.raises(ValueError, match="count"):
        cell_parameters([E_CELL, I_CELL], [1], 1.0)
    with pytest.raises(ValueError, match="count"):
        cell_parameters([E_CELL], [-1], 1.0)
