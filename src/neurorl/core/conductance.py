"""INTF7-style integrate-and-fire cells with AMPA, NMDA and GABA synapses, in discrete time.

The cell of Haşegan et al. (2022), NEURON's artificial cell ``INTF7`` (``mod/intf7.mod`` of
NathanKlineInstitute/netpyne-STDP), as a pure step function on explicit state. Every tensor is
``[..., n]``, typically ``[population, batch, neurons]``, and every parameter is a per-neuron
tensor ``[n]``, so excitatory and inhibitory cells run as one tensor program. Units: mV, ms.

Model. INTF7 has no membrane integrator: the membrane is the sum of exponentially decaying
synaptic potentials, each jumping when a presynaptic spike arrives, plus an AHP::

    V = rest + s_AMPA + s_NMDA + s_GABA + s_GABAslow + a          (mV; a: AHP, <= 0)
    each step of dt ms, with x_r >= 0 the summed weights (mV) of the spikes arriving on r:
      s_r <- s_r exp(-dt / tau_r),  a <- a exp(-dt / tau_ahp),  theta <- theta exp(-dt / tau_rr)
      u = clip(V - rest, -|rest|, |rest|)                                   (before the inputs)
      s_AMPA <- s_AMPA + x_AMPA (1 - u / E_AMPA)
      s_NMDA <- s_NMDA + x_NMDA (1 - u / E_NMDA) B(u)            only while s_NMDA < E_NMDA
      s_GABA <- min(0, s_GABA - x_GABA (1 - u / E_GABA))         only while s_GABA > E_GABA
      (the same for the slow GABA), with the reversal potentials relative to rest
      E_AMPA = 65, E_NMDA = 90, E_GABA = -15 mV and the Mg2+ unblock of NMDA
      B(u) = 1 / (1 + exp(-0.062 (rest + u)) [Mg] / 3.57 mM), [Mg] = 1.6 mM (Jahr & Stevens)
    spike if an input arrived this step, the absolute refractory period is over, and
      V > threshold + theta  and  min(V_before, V) <= block             (V_before: rest + u)
    on a spike: a <- a - ahp_weight,  theta <- rr_weight (block - threshold) exp(t_ref / tau_rr)

How this maps to INTF7 (``NET_RECEIVE``): INTF7 is event driven; at each arriving event it
decays its states analytically, adds the jump scaled by the driving force ``(1 - Vm/E)`` with
``Vm`` clipped to ``±|RMP|``, and tests the threshold only then. The discrete version:

- Exact: exponential decays (``exp(-dt/tau)``, not forward Euler), driving forces, Mg2+
  unblock, the jump limits at the reversal potentials, the threshold test only on steps with
  an arriving event (INTF7 computes only on events), the AHP, the depolarisation block (no
  spike while ``V > block``) and the relative refractory period: after a spike INTF7 sets its
  threshold to ``VTH + RRWght (Vblock - VTH)``, holds it through the absolute refractory
  period and lets it relax with ``tau_rr`` afterwards. Raising it by ``rr_weight (block -
  threshold) exp(t_ref / tau_rr)`` at the spike and decaying it from then on gives exactly
  that value at every step where a spike is allowed, as long as ``t_ref / dt`` is whole or
  rounds up (true for the paper's cells at dt 1, 0.5 and 0.25 ms; when it rounds down, the
  first allowed step sees a higher threshold than INTF7's).
- Simultaneous AMPA events: INTF7 adds them one after another, each with the driving force
  the ones before it left, so ``E_AMPA - u`` shrinks by ``1 - w_i / E_AMPA`` per event. A
  step's AMPA drive may be given that way, :func:`compose_ampa` of the summed
  :func:`ampa_log_factor` of its events (exact for AMPA alone), or as the plain sum of the
  weights, which lets a volley of k coincident inputs of w mV jump by k w instead of
  ``E_AMPA (1 - (1 - w / E_AMPA)^k)`` (5 x 6.5 mV: 32.5 against 26.6 mV). The network is
  made of such volleys (its input neurons fire in phase), where the sum drives its I and EM
  cells above the original's rates (docs/hasegan2022/network.md).
- Simplified: NMDA and GABA events of one step share one driving force, and the threshold
  is tested once per step, on the path from ``V_before`` to ``V``: a spike fires when ``V``
  ends above threshold and the path was not entirely above the block. (INTF7 tests after
  each event, so a volley of simultaneous inputs that overshoots the block still fires at
  the event that crosses threshold.) A single jump wider than the band ``block - threshold``
  (15 mV for E cells) from below threshold would fire here and be blocked in INTF7; the
  paper's weights stay below that.
- The absolute refractory period is rounded to whole steps (half-way rounds up): 5 ms is 5
  steps at dt = 1 ms and 2.5 ms is 3, as in INTF7 where the inputs arrive on a 1-ms grid.
- There is no reset: as in INTF7, a spike leaves the synaptic potentials alone; the AHP and
  the refractory periods end the spike. INTF7's AHP-dependent refractory extension
  (``AHP2REF``) and additive threshold raise (``incRR``) are 0 in the paper and left out.
- One AMPA time constant per cell: INTF7 has a proximal (``tauAM``, 10 ms) and a distal
  (``tauAM2``, 20 ms) AMPA synapse, but every E->X synapse of the paper is distal, so
  ``tau_ampa_ms`` defaults to 20 ms (the same for NMDA: ``tauNM2``). Fast GABA is ``GA``
  (10 ms), slow GABA ``GA2`` (20 ms, the IAL/IML synapses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import torch
from torch import Tensor

# INTF7's globals: reversal potentials as distances from rest in mV (EAM, ENM, EGA) and the
# NMDA Mg2+ block (mg, mg0 in mM; 0.062 per mV).
E_AMPA, E_NMDA, E_GABA = 65.0, 90.0, -15.0
MG_MM, MG0_MM, NMDA_SLOPE_PER_MV = 1.6, 3.57, 0.062


@dataclass(frozen=True)
class CellType:
    """INTF7 parameters of one cell type (mV, ms); the defaults are the paper's E cell."""

    rest_mv: float = -65.0
    threshold_mv: float = -40.0
    block_mv: float = -25.0
    refractory_ms: float = 5.0
    ahp_weight_mv: float = 1.0
    tau_ahp_ms: float = 400.0
    tau_rr_ms: float = 8.0
    rr_weight: float = 0.75
    tau_ampa_ms: float = 20.0
    tau_nmda_ms: float = 300.0
    tau_gaba_ms: float = 10.0
    tau_gaba_slow_ms: float = 20.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, got {value}")
            if f.name.startswith("tau_") and value <= 0:
                raise ValueError(f"{f.name} must be > 0 ms, got {value}")
        for name in ("refractory_ms", "ahp_weight_mv", "rr_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.rest_mv < self.threshold_mv <= self.block_mv:
            raise ValueError(
                f"need rest_mv < threshold_mv <= block_mv, got {self.rest_mv}, "
                f"{self.threshold_mv}, {self.block_mv}"
            )


# The paper's cell types (config.json): pyramidal E, fast-spiking I, low-threshold IL.
E_CELL = CellType()
I_CELL = CellType(
    rest_mv=-63.0,
    threshold_mv=-40.0,
    block_mv=-10.0,
    refractory_ms=2.5,
    ahp_weight_mv=0.5,
    tau_ahp_ms=50.0,
    tau_rr_ms=1.5,
    rr_weight=0.25,
)
IL_CELL = replace(I_CELL, rest_mv=-65.0, threshold_mv=-47.0)


class CellParameters(NamedTuple):
    """Per-neuron constants ``[n]`` for one dt (ms), built by :func:`cell_parameters`.

    ``threshold``, ``block`` and ``clip`` (= ``|rest|``) are relative to rest; ``*_decay`` are
    ``exp(-dt / tau)``; ``rr_jump`` is the threshold raise at a spike (see the module
    docstring); ``nmda_offset = 0.062 rest + ln(3.57 / 1.6)``.
    """

    dt: float
    rest: Tensor
    threshold: Tensor
    block: Tensor
    clip: Tensor
    ampa_decay: Tensor
    nmda_decay: Tensor
    gaba_decay: Tensor
    gaba_slow_decay: Tensor
    ahp_decay: Tensor
    rr_decay: Tensor
    ahp_weight: Tensor
    rr_jump: Tensor
    refractory: Tensor
    nmda_offset: Tensor


def cell_parameters(
    types: Sequence[CellType],
    counts: Sequence[int],
    dt_ms: float,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> CellParameters:
    """Constants of ``counts[i]`` neurons of ``types[i]``, concatenated in that order."""
    if dt_ms <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt_ms}")
    if len(types) != len(counts) or min(counts, default=0) < 0:
        raise ValueError("need one non-negative count per cell type")
    repeats = torch.tensor(counts, device=device)

    def each(value) -> Tensor:
        table = torch.tensor([value(t) for t in types], dtype=dtype, device=device)
        return table.repeat_interleave(repeats)

    def decay(tau) -> Tensor:
        return each(lambda t: math.exp(-dt_ms / tau(t)))

    return CellParameters(
        dt=float(dt_ms),
        rest=each(lambda t: t.rest_mv),
        threshold=each(lambda t: t.threshold_mv - t.rest_mv),
        block=each(lambda t: t.block_mv - t.rest_mv),
        clip=each(lambda t: abs(t.rest_mv)),
        ampa_decay=decay(lambda t: t.tau_ampa_ms),
        nmda_decay=decay(lambda t: t.tau_nmda_ms),
        gaba_decay=decay(lambda t: t.tau_gaba_ms),
        gaba_slow_decay=decay(lambda t: t.tau_gaba_slow_ms),
        ahp_decay=decay(lambda t: t.tau_ahp_ms),
        rr_decay=decay(lambda t: t.tau_rr_ms),
        ahp_weight=each(lambda t: t.ahp_weight_mv),
        rr_jump=each(
            lambda t: (
                t.rr_weight
                * (t.block_mv - t.threshold_mv)
                * math.exp(t.refractory_ms / t.tau_rr_ms)
            )
        ),
        refractory=each(lambda t: t.refractory_ms),
        nmda_offset=each(lambda t: NMDA_SLOPE_PER_MV * t.rest_mv + math.log(MG0_MM / MG_MM)),
    )


def ampa_log_factor(weight: Tensor) -> Tensor:
    """``ln(1 - w / E_AMPA)`` of AMPA weights ``w`` (mV, >= 0; 0 for no synapse): summed over a
    step's events and passed to :func:`compose_ampa`. A weight of ``E_AMPA`` (65 mV) or more
    takes the cell to the reversal potential (INTF7 overshoots it by ``w - E_AMPA``)."""
    return torch.log1p(-(weight / E_AMPA).clamp(max=1.0 - 1e-6))


def compose_ampa(log_factor_sum: Tensor) -> Tensor:
    """The AMPA drive (mV at rest) of a step's events added one after another as in INTF7,
    ``E_AMPA (1 - prod_i (1 - w_i / E_AMPA))``, from the sum of their :func:`ampa_log_factor`;
    one event gives its weight."""
    return -E_AMPA * torch.expm1(log_factor_sum)


class SynapticDrive(NamedTuple):
    """The drive of the spikes arriving this step, per receptor, ``[..., n]`` (mV, >= 0): the
    summed weights, or for AMPA :func:`compose_ampa` of them (see the module docstring).

    A drive ``w`` moves a cell at rest by ``w`` mV (less near the reversal potential); the
    receptor sets the sign.
    """

    ampa: Tensor
    nmda: Tensor
    gaba: Tensor
    gaba_slow: Tensor


class CellState(NamedTuple):
    """Synaptic potentials and AHP in mV (``V = rest + their sum``), ``[..., n]``; threshold:
    the raise of the threshold (relative refractoriness) in mV; refractory: ms of absolute
    refractoriness left."""

    ampa: Tensor
    nmda: Tensor
    gaba: Tensor
    gaba_slow: Tensor
    ahp: Tensor
    threshold: Tensor
    refractory: Tensor


def initial_state(shape: Sequence[int], params: CellParameters) -> CellState:
    """Cells at rest; ``shape``: the leading dims, e.g. ``(population, batch)``."""
    zeros = params.rest.new_zeros(*shape, params.rest.shape[-1])
    return CellState(*(zeros.clone() for _ in CellState._fields))


def membrane(state: CellState, params: CellParameters) -> Tensor:
    """Membrane potential ``V`` in mV, ``[..., n]``."""
    return params.rest + state.ampa + state.nmda + state.gaba + state.gaba_slow + state.ahp


def step(
    drive: SynapticDrive, state: CellState | None, params: CellParameters
) -> tuple[Tensor, CellState]:
    """One step of dt ms: ``(drive, state, params) -> (spikes [..., n], state)``.

    ``state`` None = at rest. Spikes are 0/1 in the dtype of the drive. The equations are in
    the module docstring.
    """
    if state is None:
        state = initial_state(drive.ampa.shape[:-1], params)
    ampa = state.ampa * params.ampa_decay
    nmda = state.nmda * params.nmda_decay
    gaba = state.gaba * params.gaba_decay
    gaba_slow = state.gaba_slow * params.gaba_slow_decay
    ahp = state.ahp * params.ahp_decay
    before = ampa + nmda + gaba + gaba_slow + ahp
    u = torch.clamp(before, -params.clip, params.clip)

    # driving forces 1 - u / E (multiplications: much cheaper than divisions on CPU)
    ampa.addcmul_(drive.ampa, 1.0 - u * (1.0 / E_AMPA))
    unblock = torch.sigmoid(u * NMDA_SLOPE_PER_MV + params.nmda_offset)
    nmda_jump = drive.nmda * (1.0 - u * (1.0 / E_NMDA)) * unblock
    nmda = torch.where(nmda < E_NMDA, nmda + nmda_jump, nmda)
    force = 1.0 - u * (1.0 / E_GABA)  # > 0 above the GABA reversal potential
    gaba = torch.where(gaba > E_GABA, gaba - drive.gaba * force, gaba).clamp_(max=0.0)
    gaba_slow = torch.where(
        gaba_slow > E_GABA, gaba_slow - drive.gaba_slow * force, gaba_slow
    ).clamp_(max=0.0)
    after = ampa + nmda + gaba + gaba_slow + ahp

    threshold = state.threshold * params.rr_decay
    refractory = (state.refractory - params.dt).clamp_(min=0.0)
    arrived = (drive.ampa + drive.nmda + drive.gaba + drive.gaba_slow) > 0
    fire = (
        (after > params.threshold + threshold)
        & (torch.minimum(before, after) <= params.block)
        & (refractory < 0.5 * params.dt)
        & arrived
    )
    spikes = fire.to(drive.ampa.dtype)
    ahp = ahp - spikes * params.ahp_weight
    threshold = torch.where(fire, params.rr_jump, threshold)
    refractory = torch.where(fire, params.refractory, refractory)
    return spikes, CellState(ampa, nmda, gaba, gaba_slow, ahp, threshold, refractory)
