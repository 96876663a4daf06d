"""The 200-neuron E/I CartPole network of Haşegan et al. (2022), population-batched.

Populations, in the order of the spike records (:data:`POPULATIONS`, the paper's order)::

    ES  80  sensory: one per receptive-field bin (4 observations x 20 bins)
    EA  40  association,  IA 10 fast-spiking and IAL 10 low-threshold inhibitory cells
    EM  40  motor (LEFT = first half, RIGHT = second half),  IM 10 and IML 10

The cells form two E/I modules, A = (EA, IA, IAL) and M = (EM, IM, IML), chained by the plastic
feed-forward projections ES -> EA -> EM. Within a module, E drives I and IL (AMPA + NMDA), I
inhibits the whole module through fast GABA and IL through slow ("distal") GABA; there is no
E -> E connection inside a module and no projection between modules other than EA -> EM.

Connections have a fixed in-degree: each postsynaptic cell gets exactly ``in_degree``
presynaptic cells, drawn without replacement and without self-connections; a probability ``p``
means ``round(p * n_pre)`` (NetPyNE's ``prob2conv``, as in the paper's code). AMPA and NMDA of
an E projection share the synapses. Weights are in mV (INTF7 jumps; the paper's gains
included). The AMPA weights ES->EA (1000 synapses) and EA->EM (800) are plastic, one copy per
population member, ``[P, pre, post]`` with zeros where there is no synapse
(:class:`PlasticWeights`); everything else is fixed and shared by all members.

Time: :func:`run_window` simulates one environment step, ``window_ms`` (50 ms) in steps of
``dt_ms``. The default dt = 1 ms: every time constant is >= 8 ms except the I cells' 1.5-ms
relative refractoriness, the decays are exact exponentials, the 50-Hz input has a whole-step
period (20 steps), the soma delays (1.8-2.2 ms) all round to 2 steps, and the paper's input
generators check for rate changes on a 1-ms grid anyway. dt = 0.5 and 0.25 ms cost 2x and
4x the steps, dt = 2 ms half (the tests check their population rates against dt = 1 ms).

Modelling choices (the cell: :mod:`neurorl.core.conductance`):

- ES cells are relays of their input generators. In the paper each ES cell is an INTF7 E cell
  driven one-to-one by a 35-mV AMPA (tau 10 ms) generator; it fires once per generator spike
  at 50 Hz, AHP included (checked in the tests), so its spikes are the generator's, 1 ms (the
  stimulus delay) later. The ES -> EA drive of a window is thus known before its time loop.
- Input code (the ``NSLOC_V2`` generators as the paper's code drives them): the ES neuron of
  each observation's active bin fires regularly at ``input_rate_hz``. A neuron that becomes
  active fires at once (its first spike ``input_delay_ms`` into the window), a neuron that
  stays active keeps its phase across windows, an inactive one is silent.
- Delays: the paper draws 1.8-2.2 ms per synapse; at dt = 0.5, 1 or 2 ms all of them round to
  the same number of steps (2 at dt = 1 ms), so one ``delay_ms`` serves them all (at other
  dt, e.g. the original's 0.6 ms, they would spread over two step counts). The slow-GABA
  delays (3-12 ms) are drawn per synapse and rounded to whole steps.
- The state carries over from window to window and episode to episode (in the paper the
  simulation runs on through episode ends); :func:`initial_state` is a network at rest.

Firing regime: the paper's 5.5 and 6 Hz for EA and EM are the set points of its slow
homeostatic gain control during training, which this module leaves to the learners; the
untrained network's rates against the original code's are in docs/hasegan2022/network.md.

Performance: call :func:`neurorl.core.configure_cpu` first (denormal floats otherwise slow
the decaying potentials ~100x); ``run_window(..., compile="aot")`` for any P x B on CPU
(``"step"`` on other devices), ``compile="window"`` for one small fixed batch run for long
(STDP-RL's online loop).
"""

from __future__ import annotations

import dataclasses
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from neurorl.core import conductance
from neurorl.core.aot import compile_ahead
from neurorl.core.conductance import CellParameters, CellState, CellType
from neurorl.core.encoders import CARTPOLE_RECEPTIVE_FIELDS, receptive_field_edges

POPULATIONS = ("ES", "EA", "IA", "IAL", "EM", "IM", "IML")
MODULES = (("EA", "IA", "IAL"), ("EM", "IM", "IML"))  # (E, I, IL) each
FEEDFORWARD = ("ES->EA", "EA->EM")  # the plastic projections, AMPA (+ fixed NMDA)
_SIZE_FIELDS = {"EA": "ea", "IA": "ia", "IAL": "ial", "EM": "em", "IM": "im", "IML": "iml"}


def _module(population: str) -> int | None:
    return next((i for i, module in enumerate(MODULES) if population in module), None)


@dataclass(frozen=True)
class Projection:
    """Connections ``pre -> post``: ``in_degree`` presynaptic cells per postsynaptic cell (or a
    probability ``p``, converted to ``round(p * n_pre)``); ``weight_mv`` on the receptor of the
    presynaptic population (AMPA for E, fast GABA for IA/IM, slow GABA for IAL/IML);
    ``nmda_mv`` on NMDA, for E only."""

    pre: str
    post: str
    weight_mv: float
    in_degree: int | None = None
    p: float | None = None
    nmda_mv: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.pre}->{self.post}"

    def __post_init__(self) -> None:
        if self.pre not in POPULATIONS or self.post not in POPULATIONS[1:]:
            raise ValueError(
                f"projection {self.name}: pre must be one of {POPULATIONS} and post one of "
                f"{POPULATIONS[1:]}"
            )
        module = _module(self.pre)
        within = module is not None and _module(self.post) == module
        if self.name not in FEEDFORWARD and not (
            within and not (self.pre in ("EA", "EM") and self.post in ("EA", "EM"))
        ):
            raise ValueError(
                f"projection {self.name}: not in this network's structure (ES->EA, EA->EM, "
                f"and within (EA, IA, IAL) or (EM, IM, IML) anything but E->E)"
            )
        if (self.in_degree is None) == (self.p is None):
            raise ValueError(f"projection {self.name}: give exactly one of in_degree and p")
        if self.in_degree is not None and self.in_degree < 0:
            raise ValueError(
                f"projection {self.name}: in_degree must be >= 0, got {self.in_degree}"
            )
        if self.p is not None and not 0.0 <= self.p <= 1.0:
            raise ValueError(f"projection {self.name}: p must be in [0, 1], got {self.p}")
        if self.weight_mv < 0 or self.nmda_mv < 0:
            raise ValueError(
                f"projection {self.name}: weight_mv and nmda_mv must be >= 0 (the receptor "
                f"gives the sign), got {self.weight_mv} and {self.nmda_mv}"
            )
        if self.nmda_mv and not self.pre.startswith("E"):
            raise ValueError(f"projection {self.name}: nmda_mv needs an excitatory pre")


_TWIN = {"EA": "EM", "IA": "IM", "IAL": "IML"}
_A_INHIBITION = (
    Projection("IA", "EA", 18.0, p=0.4),
    Projection("IA", "IA", 4.5, p=0.1),
    Projection("IA", "IAL", 4.5, p=0.2),
    Projection("IAL", "EA", 5.0, p=0.4),
    Projection("IAL", "IA", 2.25, p=0.2),
    Projection("IAL", "IAL", 5.5, p=0.1),
)
# config.json of the paper's code: weight = cmat weight x Gain (EE 2, EI 3, IE 2, II 1)
PAPER_PROJECTIONS = (
    Projection("ES", "EA", 10.0, in_degree=25, nmda_mv=0.196),
    Projection("EA", "EM", 6.5, in_degree=20, nmda_mv=0.1),
    Projection("EA", "IA", 5.85, in_degree=15, nmda_mv=0.0585),
    Projection("EA", "IAL", 5.94, in_degree=15, nmda_mv=0.294),
    Projection("EM", "IM", 5.85, in_degree=16, nmda_mv=0.0585),
    Projection("EM", "IML", 2.94, in_degree=16, nmda_mv=0.294),
    *_A_INHIBITION,  # and its mirror image in the motor module:
    *(Projection(_TWIN[x.pre], _TWIN[x.post], x.weight_mv, p=x.p) for x in _A_INHIBITION),
)


@dataclass(frozen=True)
class CartPoleNetworkConfig:
    """Sizes, connections, cells and timing; the defaults are the paper's (ms, mV, Hz).

    ES has one neuron per receptive-field bin of :data:`CARTPOLE_RECEPTIVE_FIELDS` (80).
    """

    ea: int = 40
    ia: int = 10
    ial: int = 10
    em: int = 40
    im: int = 10
    iml: int = 10
    projections: tuple[Projection, ...] = PAPER_PROJECTIONS
    weight_spread: float = 0.5  # plastic weights start uniform in [(1-s) w, (1+s) w]
    e_cell: CellType = conductance.E_CELL
    i_cell: CellType = conductance.I_CELL
    il_cell: CellType = conductance.IL_CELL
    delay_ms: float = 2.0
    slow_delay_ms: tuple[float, float] = (3.0, 12.0)
    input_rate_hz: float = 50.0
    input_delay_ms: float = 1.0
    dt_ms: float = 1.0
    window_ms: float = 50.0
    # a step's coincident AMPA events onto a cell: "sequential", one after another as INTF7
    # adds them (conductance.compose_ampa), or "summed" under one driving force (the default,
    # with which the trained figures were measured; docs/hasegan2022/network.md compares
    # both with the original's rates)
    ampa_events: Literal["summed", "sequential"] = "summed"

    def __post_init__(self) -> None:
        if self.ampa_events not in ("summed", "sequential"):
            raise ValueError(
                f"ampa_events must be 'summed' or 'sequential', got {self.ampa_events!r}"
            )
        for population, name in _SIZE_FIELDS.items():
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name} ({population} size) must be >= 1, got {getattr(self, name)}"
                )
        if self.em % 2:
            raise ValueError(f"em must be even (LEFT and RIGHT halves), got {self.em}")
        if not self.dt_ms > 0:
            raise ValueError(f"dt_ms must be > 0, got {self.dt_ms}")
        if self.dt_ms > self.window_ms:
            raise ValueError(f"dt_ms ({self.dt_ms}) must be <= window_ms ({self.window_ms})")
        if abs(self.window_ms / self.dt_ms - self.steps) > 1e-6:
            raise ValueError(
                f"window_ms ({self.window_ms}) must be a whole multiple of dt_ms ({self.dt_ms})"
            )
        if self.input_rate_hz < 0:
            raise ValueError(f"input_rate_hz must be >= 0, got {self.input_rate_hz}")
        if self.input_rate_hz > 1000.0 / self.dt_ms:
            raise ValueError(
                f"input_rate_hz ({self.input_rate_hz}) exceeds one spike per step (1000/dt_ms)"
            )
        if not 0.0 <= self.weight_spread <= 1.0:
            raise ValueError(f"weight_spread must be in [0, 1], got {self.weight_spread}")
        if not 1 <= self.delay_steps(self.delay_ms) <= self.steps:
            raise ValueError(
                f"delay_ms ({self.delay_ms}) must round to at least 1 step and at most the window"
            )
        if not 0 <= self.input_delay_ms < self.window_ms:
            raise ValueError(f"input_delay_ms must be in [0, window_ms), got {self.input_delay_ms}")
        low, high = self.slow_delay_ms
        if not (low <= high and self.delay_steps(low) >= 1):
            raise ValueError(
                f"slow_delay_ms must be (low, high) with low <= high, low >= 1 step; "
                f"got {self.slow_delay_ms}"
            )
        names = [projection.name for projection in self.projections]
        for projection in self.projections:
            if names.count(projection.name) > 1:
                raise ValueError(f"projection {projection.name} is given twice")
            available = self.size(projection.pre) - (projection.pre == projection.post)
            if self.in_degree(projection) > available:
                raise ValueError(
                    f"projection {projection.name}: in_degree {self.in_degree(projection)} "
                    f"exceeds the {available} possible presynaptic {projection.pre} cells"
                )

    def size(self, population: str) -> int:
        if population == "ES":
            return CARTPOLE_RECEPTIVE_FIELDS.num_neurons
        return getattr(self, _SIZE_FIELDS[population])

    def in_degree(self, projection: Projection) -> int:
        if projection.in_degree is not None:
            return projection.in_degree
        return int(0.5 + projection.p * self.size(projection.pre))  # NetPyNE's prob2conv

    @property
    def sequential_ampa(self) -> bool:
        """A step's AMPA events are added one after another (``ampa_events``)."""
        return self.ampa_events == "sequential"

    @property
    def steps(self) -> int:
        """Simulation steps per window."""
        return round(self.window_ms / self.dt_ms)

    def delay_steps(self, ms: float) -> int:
        return round(ms / self.dt_ms)


class PlasticWeights(NamedTuple):
    """Plastic AMPA weights in mV, one set per population member, zero where no synapse is."""

    es_ea: Tensor  # [P, 80, 40]
    ea_em: Tensor  # [P, 40, 40]


class Connection(NamedTuple):
    """One projection, ``[n_pre, n_post]``: ``mask`` (bool), ``weight`` and ``nmda`` in mV
    (zero where there is no synapse; the nominal weight for the plastic AMPA) and ``delay``
    in steps."""

    mask: Tensor
    weight: Tensor
    nmda: Tensor
    delay: Tensor


class ModuleWeights(NamedTuple):
    """The fixed weights of one E/I module (cells E, I, IL in this order), fused.

    ``local [n_e + n_i, 2 (n_i + n_il) + n]``: the spikes of E and I onto AMPA, then NMDA of
    the inhibitory cells (I, IL), then fast GABA of all ``n`` cells of the module (AMPA as
    :func:`~neurorl.core.conductance.ampa_log_factor` when ``ampa_events`` is sequential);
    ``slow [n_delays n_il, n]``: the IL spikes sent ``d`` steps ago (``d`` from the longest
    slow delay down) onto slow GABA.
    """

    local: Tensor
    slow: Tensor


class NetworkState(NamedTuple):
    """The state between two windows.

    cells: the cells (all but ES, in :data:`POPULATIONS` order), ``[P, B, 120]`` each;
    history ``[D, P, B, 120]``: their spikes in the last D steps, oldest first (D: the
    longest delay in steps), i.e. the spikes still in flight; input_bins ``[P, B, 4]`` long:
    the active ES neuron of each observation (-1: none yet); input_phase ``[P, B, 4]``
    float64: steps from the window start to that neuron's next spike; input_recent
    ``[delay, P, B, 4]``: the active ES neurons' spikes in the last ``delay_ms`` (in flight);
    network_index ``[P]`` long, for a stack of K networks run by any number of members: the
    network each member runs (None: member k runs network k, or there is one network).
    """

    cells: CellState
    history: Tensor
    input_bins: Tensor
    input_phase: Tensor
    input_recent: Tensor
    network_index: Tensor | None = None


class WindowOutput(NamedTuple):
    """counts ``[P, B, n_em]``: EM spikes in the window (LEFT = first half, RIGHT = second
    half); total ``[P, B]``: the spikes of all 200 neurons in the window; spikes ``[T, P, B,
    200]`` in :data:`POPULATIONS` order when recorded, else None."""

    counts: Tensor
    total: Tensor
    state: NetworkState
    spikes: Tensor | None


@dataclass(frozen=True, eq=False)
class CartPoleNetwork:
    """A drawn network: connectivity, cell constants and the fused weights of the time loop.

    Build it with :func:`build_network`. ``connections`` maps ``"PRE->POST"`` to a
    :class:`Connection` (``"ES->EA"`` and ``"EA->EM"`` are always there); ``slices`` maps a
    population to its neurons in the spike vector and records (:data:`POPULATIONS` order).
    """

    config: CartPoleNetworkConfig
    connections: dict[str, Connection]
    slices: dict[str, slice]
    cells: CellParameters  # all neurons but ES
    edges: Tensor  # [4, bins - 1] receptive-field edges
    modules: tuple[ModuleWeights, ...]

    @property
    def num_neurons(self) -> int:
        return self.slices[POPULATIONS[-1]].stop

    @property
    def history_steps(self) -> int:
        """D, the depth of :attr:`NetworkState.history`: the longest delay in steps."""
        config = self.config
        return max(config.delay_steps(config.delay_ms), config.delay_steps(config.slow_delay_ms[1]))

    def init_weights(
        self, population: int, generator: torch.Generator | None = None
    ) -> PlasticWeights:
        """Plastic weights ``[P, pre, post]``, uniform in ``[(1-s) w, (1+s) w]`` on the synapses
        (``s = config.weight_spread``), drawn on the CPU with ``generator``."""

        def draw(name: str) -> Tensor:
            weight = self.connections[name].weight
            u = torch.rand(population, *weight.shape, generator=generator, dtype=weight.dtype)
            spread = self.config.weight_spread
            return weight * (1.0 + spread * (2.0 * u.to(weight.device) - 1.0))

        return PlasticWeights(*(draw(name) for name in FEEDFORWARD))

    @property
    def members(self) -> int | None:
        """K for a stack of K networks (:func:`stack_networks`), None for one network."""
        mask = self.connections[FEEDFORWARD[0]].mask
        return mask.shape[0] if mask.dim() == 3 else None

    def member_tensor(self, tensor: Tensor, population: int, index: Tensor | None) -> Tensor:
        """A connection's ``tensor`` ``[pre, post]``, or ``[K, pre, post]`` in a stack, for
        each of ``population`` members ``[P, pre, post]`` (``index``: as
        :attr:`NetworkState.network_index`)."""
        if index is not None:
            return tensor[index]
        return tensor.expand(population, -1, -1) if tensor.dim() == 2 else tensor

    def flatten(self, weights: PlasticWeights, index: Tensor | None = None) -> Tensor:
        """The weights of the existing plastic synapses, ``[P, 1000 + 800]``, ES->EA first
        (the in-degrees are fixed, so every member of a stack has as many)."""
        flat = []
        for w, name in zip(weights, FEEDFORWARD, strict=True):
            mask = self.member_tensor(self.connections[name].mask, len(w), index)
            flat.append(w[mask].view(len(w), -1))
        return torch.cat(flat, dim=1)

    def unflatten(self, flat: Tensor, index: Tensor | None = None) -> PlasticWeights:
        """Inverse of :meth:`flatten`: ``[P, 1800] ->`` :class:`PlasticWeights`."""
        dense = []
        for name in FEEDFORWARD:
            mask = self.member_tensor(self.connections[name].mask, flat.shape[0], index)
            count = int(mask[0].sum())
            weight = flat.new_zeros(mask.shape)
            weight[mask] = flat[:, :count].reshape(-1)
            flat = flat[:, count:]
            dense.append(weight)
        return PlasticWeights(*dense)


def _draw_in_degree(
    n_pre: int, n_post: int, k: int, exclude_self: bool, generator: torch.Generator | None
) -> Tensor:
    """``mask [n_pre, n_post]`` with ``k`` distinct presynaptic cells per column."""
    mask = torch.zeros(n_pre, n_post, dtype=torch.bool)
    for j in range(n_post):
        choice = torch.randperm(n_pre - exclude_self, generator=generator)[:k]
        if exclude_self:
            choice = choice + (choice >= j)  # skip cell j itself
        mask[choice, j] = True
    return mask


def _ampa_weights(weight: Tensor, sequential: bool) -> Tensor:
    """AMPA weights (mV) as the time loop sums them: as they are, or as log factors
    (``ampa_events="sequential"``)."""
    return conductance.ampa_log_factor(weight) if sequential else weight


def _ampa_drive(summed: Tensor, sequential: bool) -> Tensor:
    """The AMPA drive of a step from the sum of :func:`_ampa_weights` of its events."""
    return conductance.compose_ampa(summed) if sequential else summed


def _feedforward_drive(summed: Tensor, sequential: bool) -> Tensor:
    """AMPA and NMDA drive ``[..., 2, n]`` from their summed weights ``[..., 2, n]``: the
    AMPA row through :func:`_ampa_drive` (no copy when summed)."""
    if not sequential:
        return summed
    return torch.stack([_ampa_drive(summed[..., 0, :], True), summed[..., 1, :]], dim=-2)


def build_network(
    config: CartPoleNetworkConfig | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> CartPoleNetwork:
    """Draw the connectivity with ``generator`` (the connectivity seed) and fuse the weights.

    The draws happen on the CPU in the order of ``config.projections`` (for each: the
    presynaptic cells of every postsynaptic cell, then the slow-GABA delays), so a seed gives
    the same network on every device.
    """
    config = config or CartPoleNetworkConfig()
    sizes = {name: config.size(name) for name in POPULATIONS}
    bounds = torch.tensor([0, *sizes.values()]).cumsum(0).tolist()
    slices = {name: slice(bounds[i], bounds[i + 1]) for i, name in enumerate(POPULATIONS)}
    soma = config.delay_steps(config.delay_ms)
    low, high = (config.delay_steps(ms) for ms in config.slow_delay_ms)
    sequential = config.sequential_ampa

    connections: dict[str, Connection] = {}
    for projection in config.projections:
        n_pre, n_post = sizes[projection.pre], sizes[projection.post]
        in_degree = config.in_degree(projection)
        mask = _draw_in_degree(
            n_pre, n_post, in_degree, projection.pre == projection.post, generator
        )
        delay = torch.full((n_pre, n_post), soma)
        if projection.pre in ("IAL", "IML"):
            u = torch.rand(n_pre, n_post, generator=generator, dtype=torch.float64)
            ms = config.slow_delay_ms[0] + (config.slow_delay_ms[1] - config.slow_delay_ms[0]) * u
            delay = torch.round(ms / config.dt_ms).long().clamp(low, high)
        connections[projection.name] = Connection(
            mask, projection.weight_mv * mask, projection.nmda_mv * mask, delay * mask
        )
    for name in FEEDFORWARD:
        if name not in connections:
            pre, post = name.split("->")
            zeros = torch.zeros(sizes[pre], sizes[post])
            connections[name] = Connection(zeros.bool(), zeros, zeros, zeros.long())

    modules = []
    for e, i, il in MODULES:
        n_e, n_i, n_il = sizes[e], sizes[i], sizes[il]
        n_inh, n = n_i + n_il, n_e + n_i + n_il
        local = torch.zeros(n_e + n_i, 2 * n_inh + n)
        slow = torch.zeros(high - low + 1, n_il, n)
        columns = {e: slice(0, n_e), i: slice(n_e, n_e + n_i), il: slice(n_e + n_i, n)}
        for post in (e, i, il):
            for pre, rows in ((e, slice(0, n_e)), (i, slice(n_e, n_e + n_i))):
                c = connections.get(f"{pre}->{post}")
                if c is None:
                    continue
                if pre == e:  # AMPA and NMDA onto the inhibitory cells
                    target = slice(columns[post].start - n_e, columns[post].stop - n_e)
                    local[rows, target] = _ampa_weights(c.weight, sequential)
                    local[rows, n_inh + target.start : n_inh + target.stop] = c.nmda
                else:
                    target = columns[post]
                    local[rows, 2 * n_inh + target.start : 2 * n_inh + target.stop] = c.weight
            c = connections.get(f"{il}->{post}")
            if c is not None:
                for d in range(low, high + 1):
                    slow[high - d, :, columns[post]] = c.weight * (c.delay == d)
        modules.append(ModuleWeights(local, slow.flatten(0, 1)))

    options = {"dtype": dtype, "device": device}
    return CartPoleNetwork(
        config=config,
        connections={
            name: Connection(
                c.mask.to(device), c.weight.to(**options), c.nmda.to(**options), c.delay.to(device)
            )
            for name, c in connections.items()
        },
        slices=slices,
        cells=conductance.cell_parameters(
            [config.e_cell, config.i_cell, config.il_cell] * len(MODULES),
            [sizes[name] for module in MODULES for name in module],
            config.dt_ms,
            **options,
        ),
        edges=receptive_field_edges(
            CARTPOLE_RECEPTIVE_FIELDS.means,
            CARTPOLE_RECEPTIVE_FIELDS.stds,
            CARTPOLE_RECEPTIVE_FIELDS.bins,
            **options,
        ),
        modules=tuple(ModuleWeights(m.local.to(**options), m.slow.to(**options)) for m in modules),
    )


def stack_networks(networks: list[CartPoleNetwork]) -> CartPoleNetwork:
    """K networks drawn with one config (e.g. K connectivity seeds) as one whose population
    members are the K networks: member k runs network k (population P = K). Their
    connections and fused module weights get a leading member dimension ``[K, ...]``; the
    cells and receptive fields, the same in all, are shared."""
    first = networks[0]
    if any(network.config != first.config for network in networks):
        raise ValueError("stacked networks must share one config")
    connections = {
        name: Connection(*(torch.stack(parts) for parts in zip(*group, strict=True)))
        for name, *group in zip(
            first.connections,
            *(network.connections.values() for network in networks),
            strict=True,
        )
    }
    modules = tuple(
        ModuleWeights(*(torch.stack(parts) for parts in zip(*group, strict=True)))
        for group in zip(*(network.modules for network in networks), strict=True)
    )
    return dataclasses.replace(first, connections=connections, modules=modules)


def initial_state(
    network: CartPoleNetwork, population: int, batch: int, network_index: Tensor | None = None
) -> NetworkState:
    """All cells at rest, no spikes in flight, no input neuron active (``network_index``: see
    :class:`NetworkState`)."""
    device = network.edges.device
    shape = (population, batch)
    n_obs = network.edges.shape[0]
    soma = network.config.delay_steps(network.config.delay_ms)
    n_cells = network.num_neurons - network.slices["ES"].stop
    return NetworkState(
        cells=conductance.initial_state(shape, network.cells),
        history=network.edges.new_zeros(network.history_steps, *shape, n_cells),
        input_bins=torch.full((*shape, n_obs), -1, dtype=torch.long, device=device),
        input_phase=torch.zeros(*shape, n_obs, dtype=torch.float64, device=device),
        input_recent=network.edges.new_zeros(soma, *shape, n_obs),
        network_index=network_index,
    )


def select_members(state: NetworkState, members: Tensor) -> NetworkState:
    """The state of some population members only (``members``: indices into P)."""
    return NetworkState(
        CellState(*(x[members] for x in state.cells)),
        state.history[:, members],
        state.input_bins[members],
        state.input_phase[members],
        state.input_recent[:, members],
        None if state.network_index is None else state.network_index[members],
    )


def _input_spikes(
    observations: Tensor, state: NetworkState, network: CartPoleNetwork
) -> tuple[Tensor, Tensor, Tensor]:
    """The ES spikes of one window: ``(neuron [P, B, 4] long, spikes [T, P, B, 4], phase)``.

    The active neuron of observation ``i`` fires at steps ``phase + k * period``; one that was
    not active in the previous window starts at ``input_delay_ms``.
    """
    config, edges = network.config, network.edges
    bins = (observations.to(edges.dtype).unsqueeze(-1) > edges).sum(-1)
    neuron = bins + torch.arange(edges.shape[0], device=edges.device) * (edges.shape[1] + 1)
    start = float(config.delay_steps(config.input_delay_ms))
    phase = torch.where(neuron == state.input_bins, state.input_phase, start)
    rate = config.input_rate_hz
    period = 1000.0 / (rate * config.dt_ms) if rate > 0 else torch.inf
    t = torch.arange(config.steps + 1, dtype=torch.float64, device=edges.device)
    before = torch.ceil((t.view(-1, 1, 1, 1) - phase) / period).clamp_(min=0.0)  # spikes < t
    sent = before[-1]
    next_phase = phase - config.steps + torch.where(sent > 0, sent * period, 0.0)
    return neuron, before.diff(dim=0).to(edges.dtype), next_phase


def _es_drive(
    neuron: Tensor,
    input_spikes: Tensor,
    state: NetworkState,
    network: CartPoleNetwork,
    weights: PlasticWeights,
) -> Tensor:
    """AMPA and NMDA drive of EA by the ES spikes arriving in each step, ``[T, P, B, 2, n_ea]``.

    A spike arrives ``delay_ms`` after it is sent: in the first steps of a window it comes
    from the previous window's active neurons (``state.input_bins``, spikes in
    ``state.input_recent``). Only the <= 8 rows of each member's weights that fire are used.
    """
    config = network.config
    soma, steps = config.delay_steps(config.delay_ms), config.steps
    population, batch, n_obs = neuron.shape
    previous = state.input_bins.clamp(min=0)  # -1 (no input yet): input_recent is silent
    arriving = input_spikes.new_zeros(steps, population, batch, 2 * n_obs)
    arriving[:soma, ..., :n_obs] = state.input_recent
    arriving[soma:, ..., n_obs:] = input_spikes[: steps - soma]
    index = torch.cat([previous, neuron], dim=-1)  # [P, B, 2 n_obs]
    rows_of = index.view(population, -1, 1).expand(-1, -1, weights.es_ea.shape[-1])
    ampa = weights.es_ea.gather(1, rows_of)
    nmda = network.member_tensor(
        network.connections["ES->EA"].nmda, population, state.network_index
    )
    nmda = nmda.gather(1, rows_of).view(*index.shape, -1)
    sequential = config.sequential_ampa
    rows = torch.stack([_ampa_weights(ampa.view_as(nmda), sequential), nmda], dim=-2)
    return _feedforward_drive(torch.einsum("tpbk,pbkrn->tpbrn", arriving, rows), sequential)


class _LoopWeights(NamedTuple):
    """The weights of one window's time loop."""

    ea_em: Tensor  # [P, n_ea, 2 n_em]: the members' plastic AMPA, then the fixed NMDA
    modules: tuple[ModuleWeights, ...]
    starts: tuple[int, ...]  # where each module starts among the cells
    sequential_ampa: bool  # ampa_events == "sequential": AMPA columns hold log factors
    layout: tuple[Tensor, Tensor] | None  # a stack's members by network (_stack_layout)


def _substep(
    es_drive: Tensor,
    arriving: Tensor,
    slow_arriving: tuple[Tensor, ...],
    cells: CellState,
    weights: _LoopWeights,
    params: CellParameters,
) -> tuple[Tensor, CellState]:
    """One step of all cells but ES (modules A then M, cells E, I, IL in each).

    ``es_drive [P, B, 2, n_ea]``: AMPA and NMDA onto EA; ``arriving [P, B, n_cells]``: the
    cells' spikes sent ``delay_ms`` ago; ``slow_arriving``, one per module,
    ``[P, B, n_delays, n_il]``: the IL spikes sent the slow-GABA delays ago (longest first).
    Returns the cells' spikes and state.
    """
    population, batch, _ = arriving.shape
    flat = (population * batch, -1)
    n_ea = weights.ea_em.shape[1]
    ea = arriving[..., weights.starts[0] : weights.starts[0] + n_ea]
    sequential = weights.sequential_ampa
    ea_em = torch.bmm(ea, weights.ea_em).view(population, batch, 2, -1)
    ea_em = _feedforward_drive(ea_em, sequential)
    ampa, nmda, gaba, gaba_slow = [], [], [], []
    for module, start, e_drive, slow in zip(
        weights.modules, weights.starts, (es_drive, ea_em), slow_arriving, strict=True
    ):
        n_local, width = module.local.shape[-2:]
        n_inh = (width - module.slow.shape[-1]) // 2
        local = _fixed_matmul(
            arriving[..., start : start + n_local], module.local, flat, weights.layout
        )
        ampa += [e_drive[..., 0, :].reshape(flat), _ampa_drive(local[:, :n_inh], sequential)]
        nmda += [e_drive[..., 1, :].reshape(flat), local[:, n_inh : 2 * n_inh]]
        gaba.append(local[:, 2 * n_inh :])
        gaba_slow.append(_fixed_matmul(slow.flatten(2), module.slow, flat, weights.layout))
    drive = conductance.SynapticDrive(
        *(
            torch.cat(parts, dim=-1).view(population, batch, -1)
            for parts in (ampa, nmda, gaba, gaba_slow)
        )
    )
    return conductance.step(drive, cells, params)


def _fixed_matmul(
    x: Tensor, weight: Tensor, flat: tuple[int, int], layout: tuple[Tensor, Tensor] | None
) -> Tensor:
    """``x [P, B, n] @ weight``, flattened to ``flat`` rows: one matrix ``[n, m]`` shared by
    all members, one per member ``[P, n, m]`` (a stack of networks, member k network k), or
    one per network ``[K, n, m]`` for members grouped by ``layout`` (:func:`_stack_layout`):
    each network's members as one matrix product, not one product per member."""
    if weight.dim() == 2:
        return x.reshape(flat) @ weight
    if layout is None:
        return torch.bmm(x, weight).reshape(flat)
    slots, positions = layout
    padded = torch.cat([x, x.new_zeros(1, *x.shape[1:])])[slots.T]  # [K, width, B, n]
    product = torch.bmm(padded.flatten(1, 2), weight)  # [K, width B, m]
    return product.view(-1, x.shape[1], weight.shape[-1])[positions].reshape(flat)


def _stack_layout(network_index: Tensor, networks: int) -> tuple[Tensor, Tensor]:
    """The members of each network of a stack, ``(slots [width, K], positions [P])``:
    ``slots[:, k]`` lists the members that run network k (padded with P, a row of zeros;
    width: the most members of one network), ``positions[p]`` is member p's place in
    ``slots.T`` flattened."""
    order = torch.argsort(network_index, stable=True)
    counts = torch.bincount(network_index, minlength=networks)
    width = max(int(counts.max()), 1)
    grouped = network_index[order]
    rank = torch.arange(len(order), device=order.device) - (counts.cumsum(0) - counts)[grouped]
    slots = torch.full((networks, width), len(order), device=order.device)
    slots[grouped, rank] = order
    positions = torch.empty_like(order)
    positions[order] = grouped * width + rank
    return slots.T.contiguous(), positions


@functools.cache
def _compiled_substep():
    """:func:`_substep` compiled by ``torch.compile`` once per process, for any population
    size (a rollout's batch shrinks as episodes end)."""
    return torch.compile(_substep, dynamic=True)


_ahead_of_time_substeps: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _ahead_of_time_substep(
    network: CartPoleNetwork, example: tuple
) -> Callable[..., tuple[Tensor, CellState]]:
    """:func:`_substep` of ``network`` for any P x B as an AOTInductor package
    (:func:`~neurorl.core.aot.compile_ahead`: ~25 s to build once per machine, a fraction of
    a second to load from its cache in later processes), called like it (``example``: its
    arguments of a first call); looked up once per network (the lookup costs ~0.3 ms)."""
    if network not in _ahead_of_time_substeps:
        layout = 0 if example[4].layout is None else ("width", 1)  # slots [width, K]; [P]
        _ahead_of_time_substeps[network] = compile_ahead(
            _substep,
            example,
            dynamic=(2, 2, 2, 2, (1, 0, 0, 0, layout), 0),  # P x B; the members' weights: P
            sources=(__file__, conductance.__file__),
        )
    return _ahead_of_time_substeps[network]


CompileMode = Literal["off", "step", "aot", "window"]


def _time_loop(
    es_drive: Tensor,
    spikes: Tensor,
    slow_history: tuple[Tensor, ...],
    cells: CellState,
    weights: _LoopWeights,
    params: CellParameters,
    timing: tuple[int, int, int, int],
    il_cells: tuple[slice, ...],
    substep: Callable[..., tuple[Tensor, CellState]],
) -> CellState:
    """The window's T steps (T = ``len(es_drive)``): fills ``spikes [D + T, P, B, n_cells]``
    and ``slow_history`` (one ``[P, B, D + T, n_il]`` per module, IL cells ``il_cells``)
    in place from index D on; ``timing``: (D, somatic delay, shortest and longest slow-GABA
    delay) in steps; ``substep``: :func:`_substep` or a compiled equivalent.
    Returns the cells' state."""
    depth, soma, low, high = timing
    steps = len(es_drive)
    for t in range(depth, depth + steps):
        fired, cells = substep(
            es_drive[t - depth],
            spikes[t - soma],
            tuple(h[:, :, t - high : t - low + 1] for h in slow_history),
            cells,
            weights,
            params,
        )
        spikes[t] = fired
        for history, il in zip(slow_history, il_cells, strict=True):
            history[:, :, t] = fired[..., il]
    return cells


@functools.cache
def _compiled_window():
    """:func:`_time_loop` compiled whole (its steps unrolled) for one fixed P x B, with
    inductor's C++ wrapper (the unrolled window launches ~1,000 kernels, whose Python calls
    would cost more than their work). The first compile takes minutes; torch's on-disk cache
    shortens it in later processes; every new shape compiles again."""
    return torch.compile(_time_loop, dynamic=False, options={"cpp_wrapper": True})


def run_window(
    observations: Tensor,
    state: NetworkState,
    network: CartPoleNetwork,
    weights: PlasticWeights,
    record: bool = False,
    compile: CompileMode = "off",
) -> WindowOutput:
    """Simulate one environment step: ``observations [P, B, 4]`` -> EM spike counts.

    The observations choose the active input neurons for the whole window of
    ``config.steps`` steps; ``weights`` are the members' plastic weights. Actions are then
    ``spike_count_vote(output.counts, 2, ...)``. With ``record``, the spikes of every step and
    neuron come back as ``[T, P, B, 200]`` (see :attr:`CartPoleNetwork.slices`). ``compile``:
    the same dynamics, each time step through ``torch.compile`` (``"step"``: any P x B and
    device, ~10-20 s to compile per process) or an AOTInductor package (``"aot"``: any P x B
    on CPU, see :func:`_ahead_of_time_substep`), or the whole window through
    ``torch.compile`` (``"window"``: for a small fixed P x B, see :func:`_compiled_window`).
    """
    config, s = network.config, network.slices
    population, batch = observations.shape[:2]
    grouped = state.network_index is not None
    if network.members not in (None, population) and not grouped:
        raise ValueError(
            f"a stack of {network.members} networks runs {network.members} members, or any "
            "number with a network_index"
        )
    if network.members and compile == "aot" and not grouped:
        raise ValueError(
            "a stack of networks runs with compile 'off', 'step' or 'window', or 'aot' with a "
            "network_index"
        )
    steps, depth = config.steps, network.history_steps
    soma = config.delay_steps(config.delay_ms)
    low, high = (config.delay_steps(ms) for ms in config.slow_delay_ms)

    neuron, input_spikes, next_phase = _input_spikes(observations, state, network)
    es_drive = _es_drive(neuron, input_spikes, state, network, weights)
    n_es = s["ES"].stop
    cells = {name: slice(s[name].start - n_es, s[name].stop - n_es) for name in POPULATIONS[1:]}
    spikes = state.history.new_empty(depth + steps, *state.history.shape[1:])
    spikes[:depth] = state.history
    # [P, B, D + T, n_il] per module: the spikes of the slow-GABA delays become one slice
    slow_history = []
    for _, _, il in MODULES:
        history = state.history.new_empty(population, batch, depth + steps, config.size(il))
        history[:, :, :depth] = state.history[..., cells[il]].permute(1, 2, 0, 3)
        slow_history.append(history)
    ea_em_nmda = network.connections["EA->EM"].nmda
    ea_em_nmda = network.member_tensor(ea_em_nmda, population, state.network_index)
    sequential = config.sequential_ampa
    loop_weights = _LoopWeights(
        torch.cat([_ampa_weights(weights.ea_em, sequential), ea_em_nmda], dim=-1),
        network.modules,
        tuple(cells[e].start for e, _, _ in MODULES),
        sequential,
        _stack_layout(state.network_index, network.members) if grouped else None,
    )
    loop_args = (
        loop_weights,
        network.cells,
        (depth, soma, low, high),
        tuple(cells[il] for _, _, il in MODULES),
    )
    if compile == "aot":
        first = tuple(h[:, :, depth - high : depth - low + 1] for h in slow_history)
        example = (
            es_drive[0],
            spikes[depth - soma],
            first,
            state.cells,
            loop_weights,
            network.cells,
        )
        substep = _ahead_of_time_substep(network, example)
    else:
        substep = _compiled_substep() if compile == "step" else _substep
    loop = _compiled_window() if compile == "window" else _time_loop
    cell_state = loop(es_drive, spikes, tuple(slow_history), state.cells, *loop_args, substep)

    counts = spikes[depth:, ..., cells["EM"]].sum(0)
    total = spikes[depth:].sum((0, -1)) + input_spikes.sum((0, -1))
    new_state = NetworkState(
        cell_state,
        spikes[steps:].clone(),
        neuron,
        next_phase,
        input_spikes[steps - soma :],
        state.network_index,
    )
    if not record:
        return WindowOutput(counts, total, new_state, None)
    sensory = input_spikes.new_zeros(steps, population, batch, n_es)
    sensory.scatter_(-1, neuron.expand(steps, -1, -1, -1), input_spikes)
    return WindowOutput(counts, total, new_state, torch.cat([sensory, spikes[depth:]], dim=-1))
