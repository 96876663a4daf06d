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
  ``neurons`` stochastic LIF neurons (:func:`neurorl.core.stochastic.stochastic_step`, on
  given uniforms) gets the drive ``gain (h_a - max_b h_b) + bias``
  for ``steps`` sub-steps; the population that spikes most acts, ties broken uniformly (as
  :func:`neurorl.core.decoders.spike_count_vote`). The action temperature ``T``
  (preference units) is the escape noise, ``T gain / (1 - beta)`` in membrane units. Trace
  ``z_a <- gamma lam z_a + (1[a acted] - q_a) phi(s)``, with ``q_a`` population ``a``'s share
  of the spikes (each count + 1/2): the three-factor rule's post-synaptic term, the chosen
  action against what the populations expected; ``w += eta_actor delta z``.
- Modulators, read from dopamine only: fast and slow exponential moments of ``delta``
  (:mod:`neurorl.neuromod`). Epistemic (unexpected) uncertainty ``E`` is the fast second
  moment, the recent squared error; aleatoric (expected) uncertainty ``A`` the slow one, the
  error the agent has come to expect. ``u = E / (E + A)`` is ACh (Lee et al. 2024's
  ``alpha``): high when the recent errors exceed the expected ones (the world has changed),
  low when they have fallen below them (consolidation). ACh acts through its **gain against
  its own running mean** ``u_bar`` (``u_bar += baseline (u - u_bar)`` per step, from 1/2, the
  ACh of errors as expected)::

      g = clip(u / u_bar, 1 / gain_max, gain_max)          (relative_gain)

  ``g > 1`` after a surprise, ``g < 1`` while the world stays as the agent expects.
  Modulated rows learn at ``eta = rate * g^power`` and act at
  ``T = temperature + noise_gain * max(g - 1, 0)`` (NA: noise that rises with surprise and
  falls back to the base as the world becomes expected); unmodulated rows at ``eta = rate``
  and ``T = temperature``. ``power`` 1 is Lee et al.'s ACh: plasticity rises after a
  surprise (above the base rate, so a row can run a low base rate while the world is stable
  and a high one right after it changes); -1 turns it down (what was learned is shielded
  from a burst of errors while NA explores); 0 leaves plasticity fixed. The fast second
  moment starts at ``prior_error`` and the slow one at 0: an agent that knows nothing starts
  at ACh 1, gain 2.
- Noise: the uniforms of the escape noise and of the vote's tie-break come in as arguments
  (``noise [R, steps * A * neurons + A]`` per decision), so that each row can draw its own
  (:func:`draw_noise` for one generator).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from neurorl.core.stochastic import StochasticParameters, stochastic_step
from neurorl.neuromod import Moments, acetylcholine, moments_step, relative_gain

MEMBRANE_DECAY = 0.5  # beta per sub-step
THRESHOLD = 0.5  # the preferred action's steady membrane bias / (1 - beta) sits at threshold
EXPECTED_ACH = 0.5  # u when the recent errors are as large as the expected ones: u_bar's start


class ActorCriticParams(NamedTuple):
    """Per row ``[R]``: ``rate`` (base plasticity of actor and critic), ``critic_scale``
    (critic rate / actor rate), ``temperature`` (base action noise, preference units),
    ``noise_gain`` (NA: noise added per unit of ACh gain above 1), ``gain_max`` (the gain's
    bound, numpy), ``power`` (plasticity ``rate * g^power``), ``modulated`` (bool), ``slow``
    and ``baseline`` (the rates per step of the slow moments and of ACh's running mean,
    numpy). Shared: the traces' ``gamma`` and ``lam``, the fast
    moments' rate ``fast`` (per step), the motor populations' ``neurons``, ``steps``,
    ``gain`` and ``bias``."""

    rate: Tensor
    critic_scale: Tensor
    temperature: Tensor
    noise_gain: Tensor
    gain_max: np.ndarray
    power: Tensor
    modulated: Tensor
    slow: np.ndarray
    baseline: np.ndarray
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
    ach_mean: np.ndarray  # u_bar [R], float64


def initial_state(
    rows: int, actions: int, features: int, prior_error: float = 1.0
) -> ActorCriticState:
    """Zero weights and traces; the fast second moment at ``prior_error`` (ACh starts at 1)
    and ACh's running mean at 1/2."""
    zeros = np.zeros(rows)
    return ActorCriticState(
        critic=torch.zeros(rows, features),
        actor=torch.zeros(rows, actions, features),
        critic_trace=torch.zeros(rows, features),
        actor_trace=torch.zeros(rows, actions, features),
        fast=Moments(zeros, np.full(rows, prior_error)),
        slow=Moments(zeros, zeros),
        ach_mean=np.full(rows, EXPECTED_ACH),
    )


def start_episode(state: ActorCriticState, rows: Tensor) -> ActorCriticState:
    """Clear the eligibility traces of ``rows`` (bool ``[R]``) whose episode begins."""
    keep = (~rows).float()
    return state._replace(
        critic_trace=state.critic_trace * keep[:, None],
        actor_trace=state.actor_trace * keep[:, None, None],
    )


def acetylcholine_of(state: ActorCriticState) -> np.ndarray:
    """``u = E / (E + A)`` per row ``[R]`` (see the module docstring)."""
    return acetylcholine(state.fast.second, state.slow.second)


def gain_of(state: ActorCriticState, params: ActorCriticParams) -> Tensor:
    """ACh's gain ``g = clip(u / u_bar, 1 / gain_max, gain_max)`` per row ``[R]``."""
    gain = relative_gain(acetylcholine_of(state), state.ach_mean, params.gain_max)
    return torch.as_tensor(gain, dtype=torch.float32)


def modulation(state: ActorCriticState, params: ActorCriticParams) -> tuple[Tensor, Tensor]:
    """``(plasticity rate, action temperature)`` per row: ``rate * g^power`` and ``temperature +
    noise_gain * max(g - 1, 0)`` where modulated, the base values elsewhere."""
    gain = gain_of(state, params)
    rate = torch.where(params.modulated, params.rate * gain**params.power, params.rate)
    noisy = params.temperature + params.noise_gain * (gain - 1.0).clamp(min=0.0)
    return rate, torch.where(params.modulated, noisy, params.temperature)


def noise_width(params: ActorCriticParams, actions: int) -> int:
    """Uniforms per row and decision: ``steps x actions x neurons`` spikes, ``actions`` ties."""
    return params.steps * actions * params.neurons + actions


def draw_noise(
    rows: int, params: ActorCriticParams, actions: int, generator: torch.Generator
) -> Tensor:
    """One decision's uniforms ``[rows, noise_width]`` from one generator."""
    return torch.rand(rows, noise_width(params, actions), generator=generator)


def act(
    phi: Tensor,
    state: ActorCriticState,
    params: ActorCriticParams,
    temperature: Tensor,
    noise: Tensor,
) -> tuple[Tensor, Tensor]:
    """The motor populations' choice ``[R]`` and their spike shares ``q [R, A]``, the escape
    noise and the tie-break read from the uniforms ``noise [R, noise_width]``."""
    preferences = (state.actor * phi[:, None, :]).sum(-1)  # per row: no batched matmul
    rows, actions = preferences.shape
    drive = params.gain * (preferences - preferences.max(-1, keepdim=True).values) + params.bias
    x = drive.repeat_interleave(params.neurons, -1)
    membrane_temperature = temperature * params.gain / (1.0 - MEMBRANE_DECAY)
    neuron = StochasticParameters(
        beta=MEMBRANE_DECAY, threshold=THRESHOLD, temperature=membrane_temperature[:, None]
    )
    uniforms = noise[:, :-actions].reshape(rows, params.steps, -1)
    neuron_state, counts = None, torch.zeros_like(x)
    for step in range(params.steps):
        spikes, neuron_state = stochastic_step(x, neuron_state, neuron, uniforms=uniforms[:, step])
        counts += spikes
    votes = counts.view(rows, actions, params.neurons).sum(-1)
    tied = votes == votes.max(-1, keepdim=True).values
    chosen = torch.where(tied, noise[:, -actions:], -1.0).argmax(-1)  # a uniform tie-break
    share = votes + 0.5
    return chosen, share / share.sum(-1, keepdim=True)


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
    ach = acetylcholine(fast.second, slow.second)
    ach_mean = state.ach_mean + params.baseline * live_rows * (ach - state.ach_mean)
    return delta, ActorCriticState(critic, actor, critic_trace, actor_trace, fast, slow, ach_mean)
