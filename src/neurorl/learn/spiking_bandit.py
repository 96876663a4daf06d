"""A spiking bandit agent: arms as motor populations of escape-noise LIF neurons, whose
plasticity rate acetylcholine sets and whose action noise noradrenaline sets.

Each arm ``a`` has a motor population of ``neurons`` stochastic LIF neurons
(:func:`neurorl.core.stochastic.stochastic_step`), driven for ``steps`` sub-steps by one
plastic synapse of weight ``w_a`` from a tonic input (the arm's learned value, in reward
units). The drive is ``x_a = gain (w_a - max_b w_b) + bias``; the escape noise is the action
temperature (in reward units, turned into membrane units); the arm whose population spikes
most is pulled (:func:`neurorl.core.decoders.spike_count_vote`, ties at random).

Learning: dopamine ``delta = r - w_a`` on the pulled arm, ``w_a += eta delta``.

- ``modulated=True``: a neuromodulatory system reads the same dopamine signal and sets both
  rates: the uncertainty tracker of :class:`NeuromodulatedAgent` (per-arm epistemic ``E`` and
  aleatoric ``A``, a CUSUM that resets ``E`` at a change) gives ``eta = E / (E + A)`` (ACh) and
  each population's temperature ``temperature + noise_gain sqrt(min(E_a, prior_variance))``
  (NA: an arm whose value is unknown gets noisy, Thompson-like, action noise).
- ``modulated=False``: the same network with ``eta = learning_rate`` and the temperature fixed.

Vectorised over seeds: the network's tensors are ``[S, arms * neurons]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from neurorl.core.decoders import spike_count_vote
from neurorl.core.stochastic import StochasticParameters, stochastic_step
from neurorl.learn.bandit_agents import BanditAgent, HyperParameter, NeuromodulatedAgent, per_seed
from neurorl.neuromod import dopamine

MEMBRANE_DECAY = 0.5  # beta per sub-step
THRESHOLD = 0.5  # the best arm's steady membrane bias / (1 - beta) sits at threshold


class SpikingBanditAgent(BanditAgent):
    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        modulated: bool = True,
        neurons: int = 10,
        steps: int = 10,
        gain: float = 0.3,
        bias: float = 0.25,
        temperature: HyperParameter = 0.2,
        learning_rate: HyperParameter = 0.1,
        noise_gain: HyperParameter = 1.0,
        prior_variance: float = 10.0,
        **tracker: Any,
    ) -> None:
        super().__init__(seeds, arms, rng)
        self.modulated, self.neurons, self.steps = modulated, neurons, steps
        self.gain, self.bias = gain, bias
        self.base_temperature = per_seed(temperature, seeds)
        self.learning_rate = per_seed(learning_rate, seeds)[:, 0]
        self.noise_gain = per_seed(noise_gain, seeds)
        self.prior_variance = prior_variance
        self.generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        self.modulators = NeuromodulatedAgent(seeds, arms, rng, **tracker) if modulated else None
        self.weights = np.zeros((seeds, arms))
        self._eta = self.learning_rate
        self._temperature = np.broadcast_to(self.base_temperature, (seeds, arms))

    def temperature(self) -> np.ndarray:
        """The action noise of each arm's population ``[S, arms]``, in reward units (NA when
        modulated)."""
        if self.modulators is None:
            return np.broadcast_to(self.base_temperature, (self.seeds, self.arms))
        uncertainty = np.minimum(self.modulators.uncertainty, self.prior_variance)
        return self.base_temperature + self.noise_gain * np.sqrt(uncertainty)

    def act(self) -> np.ndarray:
        drive = self.gain * (self.weights - self.weights.max(-1, keepdims=True)) + self.bias
        x = torch.as_tensor(drive, dtype=torch.float32).repeat_interleave(self.neurons, -1)
        self._temperature = self.temperature()
        # a drive difference dx moves the steady membrane by dx / (1 - beta): the escape noise
        # in membrane units that is the temperature in reward units
        membrane_temperature = self._temperature * self.gain / (1.0 - MEMBRANE_DECAY)
        temperature = torch.as_tensor(membrane_temperature, dtype=torch.float32)
        params = StochasticParameters(
            beta=MEMBRANE_DECAY,
            threshold=THRESHOLD,
            temperature=temperature.repeat_interleave(self.neurons, -1),
        )
        state, counts = None, torch.zeros_like(x)
        for _ in range(self.steps):
            spikes, state = stochastic_step(x, state, params, self.generator)
            counts += spikes
        actions, _ = spike_count_vote(counts, self.arms, generator=self.generator)
        return actions.numpy()

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        error = dopamine(rewards, self.weights[self.rows, actions])
        if self.modulators is not None:
            self.modulators.update(actions, rewards)
            self._eta = self.modulators.signals()["learning_rate"]
        self.weights[self.rows, actions] += self._eta * error

    def signals(self) -> dict[str, np.ndarray]:
        return {"learning_rate": self._eta, "temperature": self._temperature.mean(-1)}
