"""A spiking actor-critic whose plasticity rate acetylcholine (ACh) sets and whose action noise
noradrenaline (NA) sets: Barto, Sutton & Anderson's (1983) adaptive critic (ACE) and
associative search element (ASE), the ASE's noisy choice made by motor populations of
escape-noise LIF neurons.

Every tensor's first dimension is the row ``R``: independent agents (seeds x settings), each
with its own weights, traces, modulators and hyper-parameters.

- Critic (ACE): ``V(s) = v . phi(s)`` on fixed features ``phi [R, F]``; dopamine is the TD
  error ``delta = r + gamma (1 - terminated) V(s') - V(s)`` (Sutton & Barto 2018, eq. 6.5);
  accumulating trace ``e <- gamma lam e + phi(s)``, ``v += eta_critic delta e``.
- Actor (ASE): preferences ``h_a = w_a . phi(s)``. Action ``a``'s motor population of
  ``neurons`` stochastic LIF neurons (:func:`neurorl.core.stochastic.stochastic_step`) gets the
  drive ``gain (h_a - max_b h_b) + bias`` for ``steps`` sub-steps; the population that spikes
  most acts (:func:`neurorl.core.decoders.spike_count_vote`). The action temperature ``T``
  (preference units) is the escape noise, ``T gain / (1 - beta)`` in membrane units. Trace
  ``z_a <- gamma lam z_a + (1[a acted] - q_a) phi(s)``, with ``q_a`` population ``a``'s share
  of the spikes (each count + 1/2): the three-factor rule's post-synaptic term, the chosen
  action against what the populations expected; ``w += eta_actor delta z``.
- Modulators, read from dopamine only: fast and slow exponential moments of ``delta``
  (:mod:`neurorl.neuromod`). Epistemic (unexpected) uncertainty ``E`` is the fast second
  moment, the recent squared error; aleatoric (expected) uncertainty ``A`` the slow one, the
  error the agent has come to expect. ``u = E / (E + A)`` is ACh (Lee et al. 2024's
  ``alpha``): about 1/2 when the errors are as expected, towards 1 when the world has just
  changed (recent errors far above the expected ones), towards 0 when the errors have just
  fallen (consolidation). Modulated rows learn at ``eta = rate * u`` and act at
  ``T = temperature + noise_gain * u`` (NA); unmodulated rows at ``eta = rate`` and
  ``T = temperature``. The fast second moment starts at ``prior_error`` and the slow one at
  0: an agent that knows nothing starts at ACh 1.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from neurorl.core.decoders import spike_count_vote
from neurorl.core.stochastic import StochasticParameters, stochastic_step
from neurorl.neuromod import Moments, acetylcholine, moments_step, noradrenaline

MEMBRANE_DECAY = 0.5  # beta per sub-step
THRESHOLD = 0.5  # the preferred action's steady membrane bias / (1 - beta) sits at threshold


class ActorCriticParams(NamedTuple):
    """Per row ``[R]``: ``rate`` (base plasticity of actor and critic), ``critic_scale``
    (critic rate / actor rate), ``temperature`` (base action noise, preference units),
    ``noise_gain`` (NA: noise added at ACh 1), ``modulated`` (bool), ``slow`` (the slow
    moments' rate per step, numpy). Shared: the traces' ``gamma`` and ``lam``, the fast
    moments' rate ``fast`` (per step), the motor populations' ``neurons``, ``steps``,
    ``gain`` and ``bias``."""

    rate: Tensor
    critic_scale: Tensor
    temperature: Tensor
    noise_gain: Tensor
    modulated: Tensor
    slow: np.ndarray
    gamma: float = 0.99
    lam: float = 0.8
    fast: float = 0.02
    neurons: int = 10
    steps: int = 5
    gain: float = 0.3
    bias: float = 0.25


class ActorCriticState(NamedTuple):
    critic: Tensor  # v [R, F]
    actor: Tensor  # w [R, A, F]
    critic_trace: Tensor  # e [R, F]
    actor_trace: Tensor  # z [R, A, F]
    fast: Moments  # of delta, numpy float64 [R] each
    slow: Moments


def initial_state(
    rows: int, actions: int, features: int, prior_error: float = 1.0
) -> ActorCriticState:
    """Zero weights and traces; the fast second moment at ``prior_error`` (ACh starts at 1)."""
    zeros = np.zeros(rows)
    return ActorCriticState(
        critic=torch.zeros(rows, features),
        actor=torch.zeros(rows, actions, features),
        critic_trace=torch.zeros(rows, features),
        actor_trace=torch.zeros(rows, actions, features),
        fast=Moments(zeros, np.full(rows, prior_error)),
        slow=Moments(zeros, zeros),
    )


def start_episode(state: ActorCriticState, rows: Tensor) -> ActorCriticState:
    """Clear the eligibility traces of ``rows`` (bool ``[R]``) whose episode begins."""
    keep = (~rows).float()
    return state._replace(
        critic_trace=state.critic_trace * keep[:, None],
        actor_trace=state.actor_trace * keep[:, None, None],
    )


def acetylcholine_of(state: ActorCriticState) -> Tensor:
    """``u = E / (E + A)`` per row ``[R]`` (see the module docstring)."""
    ach = acetylcholine(state.fast.second, state.slow.second)
    return torch.as_tensor(ach, dtype=torch.float32)


def modulation(state: ActorCriticState, params: ActorCriticParams) -> tuple[Tensor, Tensor]:
    """``(plasticity rate, action temperature)`` per row: ACh and NA where modulated, the
    base values elsewhere."""
    ach = acetylcholine_of(state)
    rate = torch.where(params.modulated, params.rate * ach, params.rate)
    noisy = params.temperature + noradrenaline(ach, params.noise_gain)
    return rate, torch.where(params.modulated, noisy, params.temperature)


def act(
    phi: Tensor,
    state: ActorCriticState,
    params: ActorCriticParams,
    temperature: Tensor,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """The motor populations' choice ``[R]`` and their spike shares ``q [R, A]``."""
    preferences = torch.einsum("raf,rf->ra", state.actor, phi)
    actions = preferences.shape[-1]
    drive = params.gain * (preferences - preferences.max(-1, keepdim=True).values) + params.bias
    x = drive.repeat_interleave(params.neurons, -1)
    membrane_temperature = temperature * params.gain / (1.0 - MEMBRANE_DECAY)
    neuron = StochasticParameters(
        beta=MEMBRANE_DECAY,
        threshold=THRESHOLD,
        temperature=membrane_temperature[:, None].expand_as(x),
    )
    neuron_state, counts = None, torch.zeros_like(x)
    for _ in range(params.steps):
        spikes, neuron_state = stochastic_step(x, neuron_state, neuron, generator)
        counts += spikes
    chosen, _ = spike_count_vote(counts, actions, generator=generator)
    votes = counts.view(len(x), actions, params.neurons).sum(-1) + 0.5
    return chosen, votes / votes.sum(-1, keepdim=True)


def learn(
    phi: Tensor,
    next_phi: Tensor,
    reward: Tensor,
    terminated: Tensor,
    live: Tensor,
    chosen: Tensor,
    share: Tensor,
    state: ActorCriticState,
    params: ActorCriticParams,
    rate: Tensor,
) -> tuple[Tensor, ActorCriticState]:
    """One step of ACE and ASE for the rows where ``live`` (float ``[R]``) is 1, at plasticity
    ``rate`` (from :func:`modulation`). Returns ``(delta [R], state)``."""
    value = (phi * state.critic).sum(-1)
    next_value = (1.0 - terminated) * (next_phi * state.critic).sum(-1)
    delta = (reward + params.gamma * next_value - value) * live
    decay = params.gamma * params.lam
    mask = live[:, None]
    critic_trace = torch.where(mask > 0, decay * state.critic_trace + phi, state.critic_trace)
    post = torch.nn.functional.one_hot(chosen, share.shape[-1]).float() - share
    actor_trace = torch.where(
        mask[:, None] > 0,
        decay * state.actor_trace + post[:, :, None] * phi[:, None, :],
        state.actor_trace,
    )
    step = rate * delta
    critic = state.critic + (params.critic_scale * step)[:, None] * critic_trace
    actor = state.actor + step[:, None, None] * actor_trace
    error, live_rows = delta.double().numpy(), live.double().numpy()
    fast = moments_step(state.fast, error, params.fast * live_rows)
    slow = moments_step(state.slow, error, params.slow * live_rows)
    return delta, ActorCriticState(critic, actor, critic_trace, actor_trace, fast, slow)
