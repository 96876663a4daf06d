"""Coagent networks (Aenugu et al. 2019, 2020): every stochastic unit is an RL agent that
updates its own weights by REINFORCE on its own log-probability times one broadcast TD error.

Coagent policy-gradient theorem (Thomas 2011; Kostas, Nota & Thomas 2020): for unit ``i``
with input ``x_i``, output ``u_i`` and weights ``theta_i``, ``delta * d/dtheta_i log
pi_i(u_i | x_i)`` is the ``theta_i`` component of the whole network's policy gradient (with
``delta`` an advantage estimate, here the critic's TD error). No gradient flows between
layers: a layer's input is the sampled output of the layer below, a constant to it.

Network: a population of ``P`` actor networks, each with one *module* per action (the
companion code's layout): input -> hidden layers -> one output unit. Weights of layer ``l``
are ``[P, A, in, out]``, activity ``[P, A, B, units]`` (``B`` environments), so that each
layer's forward pass and update are one batched matrix product over the ``P x A`` modules.
The module of action ``k`` votes for ``k`` when its output unit fires; the population's
votes are summed, the most voted action is taken (ties broken at random) and
epsilon-greedy sits on top.

Two unit kinds:

- ``bernoulli``: the companion code's Bernoulli-logistic units, ``s in {-1, +1}``,
  ``p = P(s = +1) = sigmoid(2 z)``, ``z = w . x + b``; ``d log pi / dz = 2 s / (1 + exp(2 z
  s)) = s + 1 - 2 p`` (Williams' Bernoulli REINFORCE rule in its +-1 form).
- ``lif``: a spiking-in-time unit, the escape-noise LIF neuron of ``core/stochastic.py``
  run for ``T`` steps on the input spike trains (the first layer on the input code as a
  constant current); its log-probability is ``sum_t log P(z_t | v_t)`` over its time steps
  (the reset depends on the unit's own past spikes, not on its weights), and it votes with
  its spike count.

Updates of the modules that did not choose the action (``unchosen``):

- ``reinforce``: pure per-unit REINFORCE, every unit's update is ``+delta`` times its own
  score, as the coagent theorem has it.
- ``companion``: the rule of the companion code's CartPole script: a module whose output
  fired for an action that was not taken updates with ``-delta`` (as if it had voted
  against the taken action); the chosen module and the silent ones with ``+delta``.
"""

from __future__ import annotations

import itertools
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from neurorl.core.lif import apply_reset
from neurorl.core.stochastic import StochasticParameters

UnitKind = Literal["bernoulli", "lif"]
Unchosen = Literal["companion", "reinforce"]


class Layer(NamedTuple):
    weight: Tensor  # [P, A, in, out]
    bias: Tensor  # [P, A, out]


class LayerRecord(NamedTuple):
    """What one layer saw and did in one decision (all a REINFORCE update needs).
    bernoulli: ``inputs [P, A, B, in]``, ``spikes [P, A, B, out]`` in {-1, +1}, ``drive`` the
    probability of +1; lif: ``inputs [T, P, A, B, in]``, ``spikes [T, P, A, B, out]`` in
    {0, 1}, ``drive`` the membrane currents ``[T, P, A, B, out]``."""

    inputs: Tensor
    spikes: Tensor
    drive: Tensor


def init_layers(
    sizes: list[int], population: int, actions: int, scale: float, generator: torch.Generator
) -> list[Layer]:
    """Weights ``U(-scale, scale) / sqrt(in)`` and zero biases for layers ``sizes[0] ->
    sizes[1] -> ...`` of every module of every population member."""
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        uniform = torch.rand(population, actions, fan_in, fan_out, generator=generator)
        layers.append(
            Layer(
                (2 * uniform - 1) * scale / fan_in**0.5,
                torch.zeros(population, actions, fan_out),
            )
        )
    return layers


def affine(x: Tensor, layer: Layer) -> Tensor:
    """``x . W + b`` of every module at once: ``[..., P, A, B, in] -> [..., P, A, B, out]``."""
    return torch.matmul(x, layer.weight).add_(layer.bias[..., None, :])


# --- Bernoulli-logistic +-1 units ---------------------------------------------------------


def bernoulli_layer(
    x: Tensor, layer: Layer, generator: torch.Generator, mode: bool = False
) -> tuple[Tensor, Tensor]:
    """Sample ``s in {-1, +1}`` with ``p = P(+1) = sigmoid(2 z)``, ``z = x . W + b``:
    ``(s, p)``; ``mode``: the more probable ``s`` instead of a sample."""
    p = affine(x, layer).mul_(2).sigmoid_()
    fire = p > 0.5 if mode else torch.rand(p.shape, generator=generator) < p
    return fire.float().mul_(2).sub_(1), p


def bernoulli_score(p: Tensor, s: Tensor) -> Tensor:
    """``d log pi(s | z) / dz = 2 s / (1 + exp(2 z s)) = s + 1 - 2 p`` for +-1 logistic
    units, ``p = sigmoid(2 z)``."""
    return (s + 1).sub_(p, alpha=2)


def bernoulli_update(record: LayerRecord, signed_delta: Tensor) -> Layer:
    """``dW = sum_b delta_b x_b score_b^T`` and ``db = sum_b delta_b score_b`` for every unit
    at once, as batched matrix products over the modules; the learning rate is applied by
    the caller. ``signed_delta [P, A, B]``."""
    score = bernoulli_score(record.drive, record.spikes)  # [P, A, B, out]
    delta = signed_delta[..., None, :]  # [P, A, 1, B]
    weight = (record.inputs.transpose(-1, -2) * delta) @ score
    return Layer(weight, (delta @ score)[..., 0, :])


# --- spiking-in-time escape-noise LIF units ------------------------------------------------


def log_spike_probabilities(v: Tensor, params: StochasticParameters) -> tuple[Tensor, Tensor]:
    """``(log p, log (1 - p))`` of the escape function of ``core/stochastic.py``, computed
    without forming ``p`` (finite far from threshold)."""
    s = (v - params.threshold) / params.temperature
    if params.escape == "sigmoid":
        return nn.functional.logsigmoid(s), nn.functional.logsigmoid(-s)
    rate = torch.exp(s.clamp(max=30.0))
    return torch.log(-torch.expm1(-rate)).clamp(min=-100.0), -rate


def lif_layer(
    x: Tensor,
    layer: Layer,
    params: StochasticParameters,
    generator: torch.Generator,
    mode: bool = False,
) -> tuple[Tensor, Tensor]:
    """Run escape-noise LIF units for ``T`` steps on input spike trains ``x [T, P, A, B,
    in]``: ``(spikes [T, P, A, B, out] in {0, 1}, currents)``; ``mode``: spike where ``p >
    1/2`` instead of sampling."""
    currents = affine(x, layer)
    v = torch.zeros_like(currents[0])
    spikes = []
    for current in currents.unbind(0):
        v = params.beta * v + current
        log_p, _ = log_spike_probabilities(v, params)
        draw = torch.full_like(v, 0.5) if mode else torch.rand(v.shape, generator=generator)
        z = (draw < log_p.exp()).float()
        v = apply_reset(v, z, params.threshold, params.reset, params.v_reset)
        spikes.append(z)
    return torch.stack(spikes), currents


def lif_log_probability(currents: Tensor, spikes: Tensor, params: StochasticParameters) -> Tensor:
    """``sum_t log P(z_t | v_t)`` per unit ``[P, A, B, out]``, differentiable in the
    currents (the spikes, and so the resets, are given)."""
    v = torch.zeros_like(currents[0])
    total = torch.zeros_like(v)
    for current, z in zip(currents.unbind(0), spikes.unbind(0), strict=True):
        v = params.beta * v + current
        log_p, log_q = log_spike_probabilities(v, params)
        total = total + z * log_p + (1 - z) * log_q
        v = apply_reset(v, z, params.threshold, params.reset, params.v_reset)
    return total


def lif_update(
    record: LayerRecord, layer: Layer, signed_delta: Tensor, params: StochasticParameters
) -> Layer:
    """``sum_b delta_b * d/dW sum_t log P(z_t)`` for every unit at once (autograd through
    the layer's own membrane only: its input spikes are constants); ``signed_delta [P, A,
    B]``."""
    with torch.enable_grad():
        weight = layer.weight.detach().requires_grad_()
        bias = layer.bias.detach().requires_grad_()
        currents = affine(record.inputs, Layer(weight, bias))
        log_probability = lif_log_probability(currents, record.spikes, params)
        objective = (log_probability * signed_delta[..., None]).sum()
        return Layer(*torch.autograd.grad(objective, (weight, bias)))


# --- the population network -------------------------------------------------------------------


class CoagentNetwork:
    """A population of coagent actor networks (module docstring); plain tensors, updated in
    place by :meth:`update` (no optimizer: each unit's rule is its own)."""

    def __init__(
        self,
        inputs: int,
        hidden: tuple[int, ...],
        actions: int,
        population: int,
        unit: UnitKind,
        steps: int,
        neuron: StochasticParameters,
        init_scale: float,
        generator: torch.Generator,
    ) -> None:
        self.sizes = [inputs, *hidden, 1]
        self.layers = init_layers(self.sizes, population, actions, init_scale, generator)
        self.unit, self.steps, self.neuron = unit, steps, neuron
        self.actions = actions

    def forward(
        self, code: Tensor, generator: torch.Generator, mode: bool = False
    ) -> tuple[Tensor, list[LayerRecord]]:
        """Votes ``[P, B, A]`` (an output's +1 or its spike count) for input codes
        ``[B, in]``, and each layer's record; ``mode``: every unit emits its most probable
        output (a deterministic policy)."""
        population = self.layers[0].weight.shape[0]
        x = code.expand(population, self.actions, *code.shape)
        if self.unit == "lif":
            x = x.expand(self.steps, *x.shape)
        records = []
        for layer in self.layers:
            if self.unit == "bernoulli":
                spikes, drive = bernoulli_layer(x, layer, generator, mode)
            else:
                spikes, drive = lif_layer(x, layer, self.neuron, generator, mode)
            records.append(LayerRecord(x, spikes, drive))
            x = spikes
        output = records[-1].spikes[..., 0]
        votes = (output > 0).float() if self.unit == "bernoulli" else output.sum(0)
        return votes.transpose(1, 2), records

    def fired(self, records: list[LayerRecord]) -> Tensor:
        """Whether each module's output voted ``[P, B, A]``."""
        output = records[-1].spikes[..., 0]
        fired = output > 0 if self.unit == "bernoulli" else output.sum(0) > 0
        return fired.transpose(1, 2)

    def gradients(self, records: list[LayerRecord], signed_delta: Tensor) -> list[Layer]:
        """Every layer's REINFORCE step direction for ``signed_delta [P, B, A]``; layer
        ``l``'s depends only on its own record and weights."""
        signed = signed_delta.transpose(1, 2)
        if self.unit == "bernoulli":
            return [bernoulli_update(record, signed) for record in records]
        return [
            lif_update(record, layer, signed, self.neuron)
            for record, layer in zip(records, self.layers, strict=True)
        ]

    def update(self, records: list[LayerRecord], signed_delta: Tensor, lr: float) -> list[Layer]:
        """Apply ``W += lr * gradient`` to every layer; the gradients are returned."""
        gradients = self.gradients(records, signed_delta)
        for layer, gradient in zip(self.layers, gradients, strict=True):
            layer.weight.add_(gradient.weight, alpha=lr)
            layer.bias.add_(gradient.bias, alpha=lr)
        return gradients

    def firing_rates(self, records: list[LayerRecord]) -> list[float]:
        """Per layer, the fraction of units that fired (bernoulli: +1) or spikes per unit
        and time step (lif)."""
        if self.unit == "bernoulli":
            return [(float(record.spikes.mean()) + 1) / 2 for record in records]
        return [float(record.spikes.mean()) for record in records]

    def log_probabilities(self, records: list[LayerRecord]) -> list[Tensor]:
        """Each unit's ``log pi(u | x)`` under the current weights ``[P, B, A, out]``."""
        out = []
        for record, layer in zip(records, self.layers, strict=True):
            drive = affine(record.inputs, layer)
            if self.unit == "bernoulli":
                log_probability = nn.functional.logsigmoid(2 * drive * record.spikes)
            else:
                log_probability = lif_log_probability(drive, record.spikes, self.neuron)
            out.append(log_probability.transpose(1, 2))
        return out

    def to_vector(self) -> Tensor:
        return torch.cat([t.flatten() for layer in self.layers for t in layer])

    def load_vector(self, vector: Tensor) -> None:
        offset = 0
        for layer in self.layers:
            for tensor in layer:
                tensor.copy_(vector[offset : offset + tensor.numel()].view_as(tensor))
                offset += tensor.numel()


def signed_deltas(delta: Tensor, actions: Tensor, fired: Tensor, unchosen: Unchosen) -> Tensor:
    """The TD error each module learns from ``[P, B, A]``: ``delta [B]`` everywhere
    (``reinforce``), or ``-delta`` for modules that voted for an action not taken
    (``companion``); ``actions [B]`` taken, ``fired [P, B, A]``."""
    signed = delta[None, :, None].expand(fired.shape)
    if unchosen == "reinforce":
        return signed
    chosen = torch.arange(fired.shape[-1]) == actions[:, None]
    return torch.where(fired & ~chosen, -signed, signed)


def choose_actions(
    votes: Tensor, epsilon: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """The most voted action per environment ``[B]`` (votes summed over the population,
    ties broken at random), replaced by a uniform one with probability ``epsilon``; also
    the greedy choice."""
    total = votes.sum(0)
    jitter = torch.rand(total.shape, generator=generator) * 0.5
    greedy = (total + jitter).argmax(-1)
    explore = torch.rand(greedy.shape, generator=generator) < epsilon
    uniform = torch.randint(total.shape[-1], greedy.shape, generator=generator)
    return torch.where(explore, uniform, greedy), greedy


def towards_fractions(
    before: list[Tensor], after: list[Tensor], signed_delta: Tensor
) -> list[float]:
    """Per layer, the fraction of units (over population, environments, modules) whose
    update moved their log-probability of what they emitted in the direction of their
    signed TD error (towards it after a better-than-expected step, away after a worse
    one); units with a zero TD error are left out."""
    sign = torch.sign(signed_delta)[..., None]
    fractions = []
    for old, new in zip(before, after, strict=True):
        moved = torch.sign(new - old)
        counted = (sign != 0).expand_as(moved)
        agree = (moved == sign) & counted
        fractions.append(float(agree.sum() / counted.sum().clamp(min=1)))
    return fractions


def network_bytes(sizes: list[int], population: int, actions: int, batch: int, steps: int) -> int:
    """Memory of a coagent population: weights plus each layer's record (float32)."""
    weights = sum(i * o + o for i, o in itertools.pairwise(sizes))
    activity = sum(sizes[:-1]) + 2 * sum(sizes[1:])
    return 4 * population * actions * (weights + batch * steps * activity)
