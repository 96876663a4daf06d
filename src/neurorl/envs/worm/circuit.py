"""Circuit mode: the light drives named neurons of a small network wired from Cook et al.
2019, and the worm's rates are read from the command interneurons.

Each neuron class of :data:`~neurorl.envs.worm.connectome.CIRCUIT_CLASSES` is one LIF neuron
of the core (:func:`neurorl.core.lif.lif_step`, dt 10 ms, membrane tau 50 ms, threshold 1)
per worm, driven by a tonic bias, Gaussian noise, chemical synapses and gap junctions::

    x_j = bias + sigma xi + sum_i s_i w_chem n_ij / N_j z_i + sum_i g n^gap_ij / M_j (v_i - v_j)
          + light * opsin_j

with ``n_ij`` Cook et al.'s class counts (``N_j``, ``M_j``: the total counts into ``j``),
``s_i`` the sign of class ``i``'s transmitter (an assumption: :data:`SIGNS`; the connectome
gives counts, not signs), and ``opsin_j = +light_drive`` (excitatory) or ``-light_drive``
(inhibitory) on the line's neurons. Spikes are smoothed into rates (tau 1 s); the rates'
deviations from their light-off baseline (``Hz / RATE_SCALE``) set the multipliers:

- reorientation ``exp(ln 4 * (reverse - forward))``: reverse = mean of AVA, AVD, AVE;
  forward = mean of AVB, PVC (Chalfie et al. 1985; Gordus et al. 2015: AVA activity gates
  reversals; the gain matches the gains mode's AVA activation);
- speed ``exp(0.3 * forward)``; omega ``exp(ln 1.5 * mean(RIM, SMD))`` (Alkema et al.
  2005; Gray et al. 2005); pause unchanged.

The transmitter signs, gains and noise are assumptions stated here; only the counts are
Cook et al.'s.
"""

from __future__ import annotations

import numpy as np
import torch

from neurorl.core.lif import LIFParameters, LIFState, decay_from_tau, lif_step
from neurorl.envs.worm.connectome import CIRCUIT_CLASSES, load_counts
from neurorl.envs.worm.lines import Line
from neurorl.envs.worm.locomotion import Modulation

DT_MS, TAU_MS, RATE_TAU_S = 10.0, 50.0, 1.0
BIAS, NOISE, W_CHEM, G_GAP, LIGHT_DRIVE = 0.22, 0.08, 0.3, 0.05, 0.3
RATE_SCALE = 10.0  # Hz of deviation per unit of the read-out
REVERSE, FORWARD, TURN = ("AVA", "AVD", "AVE"), ("AVB", "PVC"), ("RIM", "SMD")

# +1: acetylcholine (Pereira et al. 2015 eLife 4:e12432) or glutamate through excitatory
# receptors (Serrano-Saiz et al. 2013 Cell 155:659); 0: monoamines or peptides only, no fast
# synapse modelled (RIC octopamine, AVK peptides, ASI peptides, RIB unresolved)
SIGNS: dict[str, float] = {c: 1.0 for c in CIRCUIT_CLASSES} | {
    "RIC": 0.0,
    "AVK": 0.0,
    "ASI": 0.0,
    "RIB": 0.0,
}
# connections whose sign is known to differ from the transmitter's default
SIGN_OVERRIDES: dict[tuple[str, str], float] = {
    ("AWC", "AIY"): -1.0,  # glutamate on GLC-3 chloride channels (Chalasani et al. 2007)
    ("RIM", "AVB"): -1.0,  # tyramine on LGC-55 chloride channels (Pirri et al. 2009)
}


def circuit_weights() -> tuple[torch.Tensor, torch.Tensor]:
    """``(chemical [C, C] pre x post, gap [C, C])`` input weights, normalised per target."""
    chemical, gap = load_counts()
    signs = np.array([SIGNS[c] for c in CIRCUIT_CLASSES])[:, None] * np.ones_like(chemical)
    for (pre, post), sign in SIGN_OVERRIDES.items():
        signs[CIRCUIT_CLASSES.index(pre), CIRCUIT_CLASSES.index(post)] = sign
    chemical_in = np.maximum(chemical.sum(0, keepdims=True), 1.0)
    gap = gap + gap.T  # electrical coupling is symmetric
    gap_in = np.maximum(gap.sum(0, keepdims=True), 1.0)
    w = torch.tensor(W_CHEM * signs * chemical / chemical_in, dtype=torch.float32)
    g = torch.tensor(G_GAP * gap / gap_in, dtype=torch.float32)
    return w, g


def opsin_drive(line: Line) -> torch.Tensor:
    """``[C]`` input per step while the light is on: +-LIGHT_DRIVE on the line's neurons
    (``ALL``: every neuron); a line neuron outside the circuit is an error."""
    drive = torch.zeros(len(CIRCUIT_CLASSES))
    if line.opsin == "none":
        return drive
    sign = 1.0 if line.opsin == "excitatory" else -1.0
    for neuron in line.neurons:
        if neuron == "ALL":
            drive[:] = sign * LIGHT_DRIVE
        elif neuron in CIRCUIT_CLASSES:
            drive[CIRCUIT_CLASSES.index(neuron)] = sign * LIGHT_DRIVE
        else:
            raise ValueError(f"circuit mode models {', '.join(CIRCUIT_CLASSES)}; not {neuron}")
    return drive


class CircuitResponse:
    """``N`` worms' circuits (``[1, N, C]`` LIF state), stepped at dt 10 ms inside each
    decision; ``__call__(light, dt)`` returns the multipliers read from the rates."""

    def __init__(self, line: Line, num_worms: int) -> None:
        weights, gap = circuit_weights()
        # [z, v] @ coupling = z W + v G - v * (column sums of G): synapses plus gap currents
        self.coupling = torch.cat([weights, gap - torch.diag(gap.sum(0))], 0)
        self.drive = opsin_drive(line)
        self.params = LIFParameters(beta=decay_from_tau(TAU_MS, DT_MS), threshold=1.0)
        self.index = {c: i for i, c in enumerate(CIRCUIT_CLASSES)}
        self.generator = torch.Generator().manual_seed(0)
        self.state = LIFState(torch.zeros(1, num_worms, len(CIRCUIT_CLASSES)))
        self.spikes = torch.zeros_like(self.state.v)
        self.rates = torch.zeros_like(self.state.v)
        self.baseline = self.light_off_rates()

    def light_off_rates(self) -> torch.Tensor:
        """``[C]`` mean rates (Hz) with the light off, after a 10-s settling time."""
        probe = CircuitResponse.__new__(CircuitResponse)
        probe.__dict__.update(self.__dict__)
        probe.state = LIFState(torch.zeros(1, 64, len(CIRCUIT_CLASSES)))
        probe.spikes = torch.zeros_like(probe.state.v)
        probe.rates = torch.zeros_like(probe.state.v)
        probe.generator = torch.Generator().manual_seed(1)
        off = np.zeros(64, dtype=bool)
        for _ in range(30):
            probe.advance(off, 1.0)
        return probe.rates.mean(dim=(0, 1))

    def reset(self, mask: np.ndarray, rng: np.random.Generator) -> None:
        """Worms in ``mask`` start from the light-off steady rates (membranes at rest)."""
        rows = torch.from_numpy(np.asarray(mask, bool))
        self.generator.manual_seed(int(rng.integers(2**62)))
        self.state.v[:, rows] = 0.0
        self.spikes[:, rows] = 0.0
        self.rates[:, rows] = self.baseline

    def advance(self, light: np.ndarray, dt: float) -> None:
        """Run the circuits for ``dt`` seconds with the light ``[N]`` held."""
        lit = torch.from_numpy(np.asarray(light, dtype=np.float32))[None, :, None]
        external = BIAS + lit * self.drive
        decay = float(np.exp(-DT_MS / 1000.0 / RATE_TAU_S))
        steps = max(1, round(dt * 1000.0 / DT_MS))
        noise = NOISE * torch.randn((steps, *self.state.v.shape), generator=self.generator)
        for step_noise in noise.unbind(0):
            # chemical input from last step's spikes and gap-junction currents in one product
            synaptic = torch.cat([self.spikes, self.state.v], -1) @ self.coupling
            x = external + synaptic + step_noise
            self.spikes, self.state = lif_step(x, self.state, self.params)
            self.rates = decay * self.rates + (1 - decay) * self.spikes * (1000.0 / DT_MS)

    def read_out(self) -> Modulation:
        """The multipliers from the rates' deviations from the light-off baseline."""
        deviation = ((self.rates[0] - self.baseline) / RATE_SCALE).numpy()

        def mean(names: tuple[str, ...]) -> np.ndarray:
            return deviation[:, [self.index[n] for n in names]].mean(axis=1)

        forward = mean(FORWARD)
        return Modulation(
            reorientation=np.clip(np.exp(np.log(4.0) * (mean(REVERSE) - forward)), 0.05, 20.0),
            speed=np.clip(np.exp(0.3 * forward), 0.1, 2.0),
            omega=np.clip(np.exp(np.log(1.5) * mean(TURN)), 0.1, 10.0),
            pause=np.ones(len(forward)),
        )

    def __call__(self, light: np.ndarray, dt: float) -> Modulation:
        with torch.no_grad():
            self.advance(light, dt)
        return self.read_out()
