"""Reward-modulated STDP for one plastic projection, as pure functions on explicit state.

Shapes: weights ``[P, n_pre, n_post]`` (P independent networks), synapse mask ``[n_pre, n_post]``
(or ``[P, n_pre, n_post]``), spike records of one simulation window ``pre [T, P, B, n_pre]`` and
``post [T, P, B, n_post]`` in {0, 1} (B environments per network). Time is in ms; sub-step k
(0..T-1) of a window lies ``(k + 1) dt`` after its start, and the state describes the end of the
last window, where a reward is applied. Each spike pairs only with the other side's spikes
strictly before it, so simultaneous pre and post spikes pair with nothing.

``tags`` (Haşegan et al. 2022; ``mod/stdp.mod`` of NathanKlineInstitute/netpyne-STDP, after
Chadderdon et al. 2012), nearest-neighbour pairs and binary eligibility::

    post spike at t, last pre spike at t_pre:  min_interval < t - t_pre <= hebb_window
        -> Hebbian tag at t (replaces the synapse's older Hebbian tag)
    pre spike at t, last post spike at t_post:  min_interval < t - t_post <= anti_window
        -> anti-Hebbian tag at t
    reward r (per postsynaptic cell):
        dw = r * (hebb_rate * [now - t_hebb <= hebb_lifetime]
                  + anti_rate * [now - t_anti <= anti_lifetime])

The two kinds of tag are independent (a synapse may hold both). A reward does not consume them:
every reward within a tag's lifetime acts on it. Tags and remembered spikes are cleared only by
:func:`reset_eligibility` (the original: at the end of each episode). Intervals of at most
``min_interval`` (1 ms) never tag, as in the original. Not modelled: the original's first
1000 ms without plasticity (skip :func:`apply_reward` then), its unsupervised STDP and its
exponential tags (``STDPon``, ``useRLexp``: both off for the paper's plastic synapses).

``trace`` (Izhikevich 2007; Florian 2007, MSTDPET), all-to-all exponential traces::

    x_pre[k] = x_pre[k-1] exp(-dt/tau_plus) + pre[k]      (x_post likewise, with tau_minus)
    c[k] = c[k-1] exp(-dt/tau_c) + a_plus x_pre[k-1] exp(-dt/tau_plus) post[k]
                                 - a_minus pre[k] x_post[k-1] exp(-dt/tau_minus)
    reward r:  dw = r * c          (c is not consumed; it keeps decaying)

Both: the changes of the B environments are summed (``batch_reduce="sum"``: B experiences of
the original, one after the other without clipping in between) or averaged; optional soft
bounds (the original's ``softthresh``) scale dw > 0 by ``(w_max - w) / (w_max - w_min)`` and
dw < 0 by ``(w - w_min) / (w_max - w_min)``; the result is clipped to ``[w_min, w_max]`` and
synapses outside the mask are returned unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

# Spike intervals and tag ages are sums of dt; comparisons with the windows and lifetimes
# tolerate this much float rounding, so a pair exactly on an edge counts as on the edge.
_EPS_MS = 1e-3
# Tag search (see _last_coincidence): sums of 24 consecutive powers of two are exact in
# float32, and codes 2**k stay finite for k < 128.
_CHUNK = 24
_MAX_STEPS = 120


@dataclass(frozen=True)
class STDPConfig:
    """Defaults: the paper's later stages (``config3.json`` of the original): 5 ms windows,
    250 ms binary tags, rates +-0.005 times the E->E gain 2, bounds [0, 200 * 2], additive.
    Trace defaults: Izhikevich 2007 time constants (20, 20, 1000 ms) and ratio a_minus/a_plus
    = 1.5, with a_plus equal to hebb_rate."""

    eligibility: Literal["tags", "trace"] = "tags"
    hebb_window_ms: float = 5.0
    anti_window_ms: float = 5.0
    min_interval_ms: float = 1.0
    hebb_lifetime_ms: float = 250.0
    anti_lifetime_ms: float = 250.0
    hebb_rate: float = 0.01
    anti_rate: float = -0.01
    a_plus: float = 0.01
    a_minus: float = 0.015
    tau_plus_ms: float = 20.0
    tau_minus_ms: float = 20.0
    tau_c_ms: float = 1000.0
    w_min: float = 0.0
    w_max: float = 400.0
    soft_bound: bool = False
    batch_reduce: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        if self.eligibility not in ("tags", "trace"):
            raise ValueError(
                f"stdp.eligibility must be 'tags' or 'trace', got {self.eligibility!r}"
            )
        if self.batch_reduce not in ("sum", "mean"):
            raise ValueError(
                f"stdp.batch_reduce must be 'sum' or 'mean', got {self.batch_reduce!r}"
            )
        if self.min_interval_ms < 0:
            raise ValueError(f"stdp.min_interval_ms must be >= 0, got {self.min_interval_ms}")
        for name in ("hebb_window_ms", "anti_window_ms"):
            if getattr(self, name) <= self.min_interval_ms:
                raise ValueError(
                    f"stdp.{name} must be > min_interval_ms ({self.min_interval_ms}), "
                    f"got {getattr(self, name)}"
                )
        for name in (
            "hebb_lifetime_ms",
            "anti_lifetime_ms",
            "tau_plus_ms",
            "tau_minus_ms",
            "tau_c_ms",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"stdp.{name} must be > 0, got {getattr(self, name)}")
        for name in ("hebb_rate", "a_plus", "a_minus"):
            if getattr(self, name) < 0:
                raise ValueError(f"stdp.{name} must be >= 0, got {getattr(self, name)}")
        if self.anti_rate > 0:
            raise ValueError(f"stdp.anti_rate must be <= 0, got {self.anti_rate}")
        if self.w_min >= self.w_max:
            raise ValueError(f"stdp.w_max must be > w_min ({self.w_min}), got {self.w_max}")


class TagState(NamedTuple):
    """Ages in ms at the end of the last window; inf = never (or cleared)."""

    pre_age: Tensor  # [P, B, n_pre] since the last presynaptic spike
    post_age: Tensor  # [P, B, n_post] since the last postsynaptic spike
    hebb_age: Tensor  # [P, B, n_pre, n_post] since the last Hebbian tag
    anti_age: Tensor  # [P, B, n_pre, n_post] since the last anti-Hebbian tag


class TraceState(NamedTuple):
    """Traces at the end of the last window."""

    pre_trace: Tensor  # [P, B, n_pre]
    post_trace: Tensor  # [P, B, n_post]
    eligibility: Tensor  # [P, B, n_pre, n_post], in weight units per unit reward


STDPState = TagState | TraceState


def stdp_init(
    config: STDPConfig,
    population: int,
    batch: int,
    n_pre: int,
    n_post: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> STDPState:
    """Empty eligibility: no remembered spikes, no tags, zero traces."""
    kind = dict(device=device, dtype=dtype)
    fill = math.inf if config.eligibility == "tags" else 0.0
    pre = torch.full((population, batch, n_pre), fill, **kind)
    post = torch.full((population, batch, n_post), fill, **kind)
    syn = torch.full((population, batch, n_pre, n_post), fill, **kind)
    if config.eligibility == "tags":
        return TagState(pre, post, syn, syn.clone())
    return TraceState(pre, post, syn)


def reset_eligibility(state: STDPState, done: Tensor) -> STDPState:
    """Clear spikes, tags and traces of the environments where ``done [P, B]`` is true."""
    fill = math.inf if isinstance(state, TagState) else 0.0
    cleared = []
    for x in state:
        flags = done.bool().reshape(done.shape + (1,) * (x.dim() - 2))
        cleared.append(x.masked_fill(flags, fill))
    return type(state)(*cleared)


def update_eligibility(
    pre: Tensor, post: Tensor, state: STDPState, config: STDPConfig, dt_ms: float
) -> STDPState:
    """Advance the eligibility over one window of spikes ``pre [T, P, B, n_pre]``,
    ``post [T, P, B, n_post]`` with sub-step ``dt_ms``."""
    if dt_ms <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt_ms}")
    if pre.shape[1:] != state[0].shape or post.shape[1:] != state[1].shape:
        raise ValueError(
            f"spikes must be [T, *{tuple(state[0].shape)}] and [T, *{tuple(state[1].shape)}], "
            f"got {tuple(pre.shape)} and {tuple(post.shape)}"
        )
    if pre.shape[0] != post.shape[0]:
        raise ValueError(f"pre and post must have the same T, got {pre.shape[0]}, {post.shape[0]}")
    if isinstance(state, TagState):
        return _update_tags(pre > 0, post > 0, state, config, dt_ms)
    return _update_trace(pre, post, state, config, dt_ms)


@functools.cache
def compiled_update_eligibility() -> Callable[..., STDPState]:
    """:func:`update_eligibility` through ``torch.compile`` (fixed shapes, inductor's C++
    wrapper), once per process: one network's 50-step window of 40 x 40 synapses in ~0.13 ms
    against ~1.2 ms eager; ~10 s to compile per shape and rule."""
    return torch.compile(update_eligibility, dynamic=False, options={"cpp_wrapper": True})


def _ages_before(spikes: Tensor, age: Tensor, dt_ms: float) -> tuple[Tensor, Tensor]:
    """Age of the last spike strictly before each sub-step ``[T, ...]``, and the final age:
    ``(k - j) dt`` after the window's last spike ``j`` before ``k``, else the old age plus
    ``(k + 1) dt`` (one cumulative maximum over time, no loop)."""
    steps = spikes.shape[0]
    k = torch.arange(steps, dtype=age.dtype, device=age.device).reshape(-1, *[1] * age.dim())
    last = torch.where(spikes, k, -1.0).cummax(0).values  # last spike at or before k
    earlier = torch.cat([torch.full_like(last[:1], -1.0), last[:-1]])  # strictly before k
    before = torch.where(earlier >= 0, (k - earlier) * dt_ms, age + (k + 1) * dt_ms)
    final = torch.where(last[-1] >= 0, (steps - 1 - last[-1]) * dt_ms, age + steps * dt_ms)
    return before, final


def _in_window(age: Tensor, low: float, high: float) -> Tensor:
    return (age > low + _EPS_MS) & (age <= high + _EPS_MS)


def _last_coincidence(a: Tensor, b: Tensor) -> Tensor:
    """Code of the last sub-step k with ``a[k, n, i] & b[k, n, j]``: ``[n, i, j]``, 2**k or 0.

    ``sum_k 2**k a[k, i] b[k, j]`` over a chunk of 24 sub-steps is one batched matmul, exact in
    float32 (also under reduced-precision matmul modes: the inputs are 0, 1 and powers of two),
    and its highest power of two is the chunk's last such k; later chunks give larger codes, so
    the maximum over chunks holds the last k overall (T <= _MAX_STEPS).
    """
    codes = 2.0 ** torch.arange(a.shape[0], dtype=torch.float32, device=a.device)
    weighted = a.to(torch.float32) * codes.reshape(-1, 1, 1)
    last = torch.zeros((), device=a.device)
    for start in range(0, a.shape[0], _CHUNK):
        chunk = slice(start, start + _CHUNK)
        total = torch.einsum("kni,knj->nij", weighted[chunk], b[chunk].to(torch.float32))
        last = torch.maximum(last, total)
    return last


def _update_tags(
    pre: Tensor, post: Tensor, state: TagState, config: STDPConfig, dt_ms: float
) -> TagState:
    if pre.shape[0] > _MAX_STEPS:
        for pre_part, post_part in zip(pre.split(_MAX_STEPS), post.split(_MAX_STEPS), strict=True):
            state = _update_tags(pre_part, post_part, state, config, dt_ms)
        return state
    steps = pre.shape[0]
    pre_before, pre_age = _ages_before(pre, state.pre_age, dt_ms)
    post_before, post_age = _ages_before(post, state.post_age, dt_ms)
    pre_ok = _in_window(pre_before, config.min_interval_ms, config.hebb_window_ms)
    post_ok = _in_window(post_before, config.min_interval_ms, config.anti_window_ms)

    def age(a: Tensor, b: Tensor, old: Tensor) -> Tensor:
        code = _last_coincidence(a.flatten(1, 2), b.flatten(1, 2)).reshape(old.shape)
        k = (code.view(torch.int32) >> 23) - 127  # float32 exponent of 2**k
        return torch.where(code > 0, (steps - 1 - k) * dt_ms, old + steps * dt_ms).to(old)

    hebb_age = age(pre_ok, post, state.hebb_age)
    anti_age = age(pre, post_ok, state.anti_age)
    return TagState(pre_age, post_age, hebb_age, anti_age)


def _traces_before(spikes: Tensor, trace: Tensor, decay: float) -> tuple[Tensor, Tensor]:
    """Trace just before each sub-step's spikes ``[T, ...]``, and the final trace."""
    before = []
    for z in spikes.unbind(0):
        trace = trace * decay
        before.append(trace)
        trace = trace + z
    return torch.stack(before), trace


def _update_trace(
    pre: Tensor, post: Tensor, state: TraceState, config: STDPConfig, dt_ms: float
) -> TraceState:
    steps = pre.shape[0]
    pre, post = pre.to(state.pre_trace), post.to(state.post_trace)
    x_pre, pre_trace = _traces_before(pre, state.pre_trace, math.exp(-dt_ms / config.tau_plus_ms))
    x_post, post_trace = _traces_before(
        post, state.post_trace, math.exp(-dt_ms / config.tau_minus_ms)
    )
    # decay from each sub-step to the end of the window: exp(-(T - 1 - k) dt / tau_c)
    to_end = torch.exp(
        -(steps - 1 - torch.arange(steps, dtype=pre.dtype, device=pre.device))
        * (dt_ms / config.tau_c_ms)
    ).reshape(-1, 1, 1, 1)
    pre_side = torch.cat([config.a_plus * x_pre * to_end, pre * to_end])
    post_side = torch.cat([post, -config.a_minus * x_post])
    decay = math.exp(-steps * dt_ms / config.tau_c_ms)
    c = state.eligibility * decay + torch.einsum("kpbi,kpbj->pbij", pre_side, post_side)
    return TraceState(pre_trace, post_trace, c)


def eligibility(state: STDPState, config: STDPConfig) -> Tensor:
    """Weight change per unit reward now, ``[P, B, n_pre, n_post]``."""
    if isinstance(state, TraceState):
        return state.eligibility
    hebb = (state.hebb_age <= config.hebb_lifetime_ms + _EPS_MS).to(state.hebb_age)
    anti = (state.anti_age <= config.anti_lifetime_ms + _EPS_MS).to(state.anti_age)
    return config.hebb_rate * hebb + config.anti_rate * anti


def apply_reward(
    weights: Tensor,
    mask: Tensor,
    state: STDPState,
    reward: Tensor | float,
    config: STDPConfig,
    pre_scale: Tensor | None = None,
) -> Tensor:
    """New weights ``[P, n_pre, n_post]`` after a reward broadcastable to ``[P, B, n_post]``
    (per postsynaptic cell; a per-environment reward ``r [P, B]`` is ``r[..., None]``).

    ``pre_scale`` (broadcastable to ``[P, B, n_pre]``) multiplies the reward of each
    presynaptic cell's synapses, e.g. :func:`neurorl.learn.homeostasis.balance_reward`.
    The eligibility is left as it is (the original keeps tags after a reward).
    """
    elig = eligibility(state, config)
    population, batch, n_pre, n_post = elig.shape
    reward = torch.as_tensor(reward, dtype=elig.dtype, device=elig.device)
    reward = reward.expand(population, batch, n_post)
    if pre_scale is None:
        dw = torch.einsum("pbij,pbj->pij", elig, reward)
    else:
        scale = pre_scale.to(elig).expand(population, batch, n_pre)
        dw = torch.einsum("pbij,pbi,pbj->pij", elig, scale, reward)
    if config.batch_reduce == "mean":
        dw = dw / batch
    if config.soft_bound:
        span = config.w_max - config.w_min
        room = torch.where(dw >= 0, config.w_max - weights, weights - config.w_min)
        dw = dw * room / span
    new = (weights + dw).clamp(config.w_min, config.w_max)
    return torch.where(mask.bool(), new, weights)
