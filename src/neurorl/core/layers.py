"""Whole-sequence LIF layers: the time loop fused for speed, same numbers as :func:`lif_step`.

``lif_sequence(currents [T, ..., n], params)`` runs :func:`neurorl.core.lif.lif_step` over a
leading time dimension and ``lif_layer(x [T, ..., in], weight [in, out], bias, params)``
puts a dense input map in front of it. Both return ``(spikes [T, ..., n], final LIFState)``
and give bit-for-bit the spikes and membranes of the plain step loop
(``run_sequence(lif_step, ...)``), with the gradients of its surrogate backward pass (equal
up to float round-off: the terms are summed in another order).

Why they are faster than the step loop (measured in ``benchmarks/core_throughput.py``):

* the input map is one matrix product over all ``T * batch`` rows instead of ``T`` small
  ones (the dense product dominates the cost of a layer);
* the loop writes into preallocated ``[T, ...]`` buffers through ``unbind`` views (no
  ``x[t]`` indexing, whose backward would write a full-size zero gradient per step), with
  one kernel per arithmetic operation of the step and no autograd graph per step;
* under autograd, one custom ``Function`` for the whole sequence saves only the membrane
  before reset ``v[t]`` and the spikes, and its backward runs the adjoint recurrence in
  place in the membrane buffer, which then holds the gradient of the input currents;
  :func:`lif_layer` computes that buffer in place of the input currents, so a layer's
  forward and backward allocate one ``[T, ..., out]`` buffer besides its spikes.

Parameters (``beta``, ``threshold``, ``v_reset``) may be floats or tensors broadcastable to
one step's shape. Tensors that require a gradient (learned time constants or thresholds)
take the plain autograd step loop, which is slower but differentiates them. On CPU, set
``torch.set_flush_denormal(True)``: decaying membranes otherwise slow every step down.
"""

from __future__ import annotations

from itertools import repeat

import torch
from torch import Tensor

from neurorl.core.lif import (
    CubaLIFParameters,
    CubaLIFState,
    LIFParameters,
    LIFState,
    cuba_lif_step,
    lif_step,
    run_sequence,
)

__all__ = ["cuba_lif_sequence", "lif_layer", "lif_sequence", "synaptic_filter"]


def _fused_ok(params: LIFParameters) -> bool:
    """The fused path treats beta, threshold and v_reset as constants."""
    return not any(
        isinstance(value, Tensor) and value.requires_grad
        for value in (params.beta, params.threshold, params.v_reset)
    )


def _forward_loop(
    currents: Tensor, u: Tensor, params: LIFParameters, v_buf: Tensor | None, spikes: Tensor
) -> None:
    """Run the LIF over ``currents [T, ...]``, the arithmetic of lif_step op for op.

    The membrane before reset goes to ``v_buf [T, ...]`` (which may be ``currents`` itself:
    each slice is read before it is written) or, if None, to a one-step scratch buffer; the
    spikes go to ``spikes`` (which may be ``currents`` too); ``u`` ends as the state.
    """
    beta, threshold, reset, v_reset = params.beta, params.threshold, params.reset, params.v_reset
    if reset not in ("soft", "hard"):
        raise ValueError(f"reset must be 'soft' or 'hard', got {reset!r}")
    scalar_threshold = not isinstance(threshold, Tensor)
    steps = currents.shape[0]
    vs = repeat(torch.empty_like(u), steps) if v_buf is None else v_buf.unbind(0)
    for x, v, z in zip(currents.unbind(0), vs, spikes.unbind(0), strict=True):
        u.mul_(beta)  # v = beta * v_prev + x: two roundings, as in lif_step
        torch.add(u, x, out=v)
        torch.gt(v, threshold, out=z)
        if reset == "soft":  # u = v - z * threshold (z * threshold is exact)
            if scalar_threshold:
                torch.sub(v, z, alpha=threshold, out=u)
            else:
                torch.addcmul(v, z, threshold, value=-1.0, out=u)
        else:  # u = v - z * (v - v_reset)
            torch.sub(v, v_reset, out=u)
            torch.addcmul(v, z, u, value=-1.0, out=u)


def _backward_loop(
    v_buf: Tensor, spikes: Tensor, grad_spikes: Tensor, grad_u: Tensor, params: LIFParameters
) -> Tensor:
    """Adjoint of :func:`_forward_loop`, in place: ``v_buf`` becomes dL/d(currents).

    With ``gu = dL/du[t]`` (from step t+1, ``beta * dL/dv[t+1]``) and ``g`` the surrogate
    derivative at ``v[t] - threshold``:
    soft: ``dL/dv = (dL/dz - threshold * gu) * g + gu``;
    hard: ``dL/dv = (dL/dz - (v - v_reset) * gu) * g + (1 - z) * gu``.
    Returns dL/d(initial state).
    """
    beta, threshold, reset, v_reset = params.beta, params.threshold, params.reset, params.v_reset
    derivative, slope = params.surrogate.derivative, params.surrogate.slope
    fast_sigmoid = params.surrogate.name == "fast_sigmoid"  # g = 1 / (slope |h| + 1)^2
    scalar_threshold = not isinstance(threshold, Tensor)
    gu = grad_u
    dz, h = torch.empty_like(gu), torch.empty_like(gu)
    for v, z, gz in zip(
        reversed(v_buf.unbind(0)),
        reversed(spikes.unbind(0)),
        reversed(grad_spikes.unbind(0)),
        strict=True,
    ):
        # dz = dL/dz[t] through the output and the reset
        if reset == "soft" and scalar_threshold:
            torch.add(gz, gu, alpha=-threshold, out=dz)
        else:
            if reset == "soft":
                torch.mul(gu, threshold, out=dz)
            else:
                torch.sub(v, v_reset, out=dz)
                dz.mul_(gu)
                torch.addcmul(gu, gu, z, value=-1.0, out=gu)  # dL/dv via the reset: (1 - z) gu
            torch.sub(gz, dz, out=dz)
        # dL/dv[t] = dz * g + gu, written over v[t]
        torch.sub(v, threshold, out=h)
        if fast_sigmoid:
            h.abs_().mul_(slope).add_(1.0).square_()
            torch.addcdiv(gu, dz, h, out=v)
        else:
            torch.addcmul(gu, dz, derivative(h), out=v)
        torch.mul(v, beta, out=gu)
    return gu


def _initial_state(state: LIFState | None, step_shape: torch.Size, like: Tensor) -> Tensor:
    if state is None:
        return torch.zeros(step_shape, dtype=like.dtype, device=like.device)
    return state.v.detach().expand(step_shape).clone()


class _LIFSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, currents: Tensor, v0: Tensor, params: LIFParameters):
        u = v0.detach().clone()
        v_buf = torch.empty_like(currents)
        spikes = torch.empty_like(currents)
        _forward_loop(currents, u, params, v_buf, spikes)
        ctx.save_for_backward(v_buf, spikes)
        ctx.params = params
        return spikes, u

    @staticmethod
    def backward(ctx, grad_spikes: Tensor, grad_u: Tensor):
        v_buf, spikes = ctx.saved_tensors
        # in place: a second backward through this graph fails autograd's version check
        grad_v0 = _backward_loop(v_buf, spikes, grad_spikes, grad_u.clone(), ctx.params)
        return v_buf, grad_v0, None


class _LIFLayer(torch.autograd.Function):
    """Dense map + LIF over time; the membrane buffer is the currents buffer."""

    @staticmethod
    def forward(ctx, x2d: Tensor, weight: Tensor, bias: Tensor | None, v0: Tensor, shape, params):
        currents = torch.mm(x2d, weight) if bias is None else torch.addmm(bias, x2d, weight)
        currents = currents.view(shape)
        u = v0.detach().clone()
        spikes = torch.empty_like(currents)
        _forward_loop(currents, u, params, currents, spikes)  # currents now hold v[t]
        ctx.save_for_backward(x2d, weight, currents, spikes)
        ctx.params, ctx.has_bias = params, bias is not None
        return spikes, u

    @staticmethod
    def backward(ctx, grad_spikes: Tensor, grad_u: Tensor):
        x2d, weight, v_buf, spikes = ctx.saved_tensors
        grad = v_buf  # in place: a second backward fails autograd's version check
        grad_v0 = _backward_loop(grad, spikes, grad_spikes, grad_u.clone(), ctx.params)
        grad2d = grad.view(-1, grad.shape[-1])
        need_x, need_w, need_b, need_v0 = ctx.needs_input_grad[:4]
        grad_x = grad2d @ weight.T if need_x else None
        grad_w = x2d.T @ grad2d if need_w else None
        grad_b = grad2d.sum(0) if ctx.has_bias and need_b else None
        return grad_x, grad_w, grad_b, grad_v0 if need_v0 else None, None, None


def _needs_grad(*tensors: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def lif_sequence(
    currents: Tensor, params: LIFParameters = LIFParameters(), state: LIFState | None = None
) -> tuple[Tensor, LIFState]:
    """LIF over a leading time dimension: ``currents [T, ...] -> (spikes [T, ...], state)``.

    Bit-for-bit ``run_sequence(lif_step, currents, state, params)``; differentiable in
    ``currents`` and ``state.v`` with the surrogate ``params.surrogate``.
    """
    if currents.dim() < 1 or currents.shape[0] < 1:
        raise ValueError(f"currents need a leading time dimension, got {tuple(currents.shape)}")
    if not _fused_ok(params):
        return run_sequence(lif_step, currents, state, params)  # type: ignore[return-value]
    v0 = _initial_state(state, currents.shape[1:], currents)
    if _needs_grad(currents, None if state is None else state.v):
        if state is not None and state.v.requires_grad:
            v0 = state.v.expand(currents.shape[1:])
        spikes, u = _LIFSequence.apply(currents, v0, params)
        return spikes, LIFState(u)
    with torch.no_grad():
        spikes = torch.empty_like(currents)
        _forward_loop(currents, v0, params, None, spikes)
    return spikes, LIFState(v0)


def lif_layer(
    x_seq: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    params: LIFParameters = LIFParameters(),
    state: LIFState | None = None,
) -> tuple[Tensor, LIFState]:
    """A dense layer of LIF neurons over time: ``x [T, ..., in] -> (spikes [T, ..., out], state)``.

    ``weight [in, out]`` and ``bias [out]`` (neurorl's layout, ``x @ weight + bias``), or a
    population's ``weight [P, in, out]``, ``bias [P, 1, out]`` with ``x [T, P, B, in]``.
    The input map is one matrix product over all time steps; gradients flow to ``x``,
    ``weight``, ``bias`` and ``state.v``.
    """
    if x_seq.dim() < 2:
        raise ValueError(f"x needs shape [T, ..., in], got {tuple(x_seq.shape)}")
    if weight.dim() == 3 or not _fused_ok(params):
        currents = torch.matmul(x_seq, weight)
        if bias is not None:
            currents = currents + bias
        return lif_sequence(currents, params, state)
    if weight.dim() != 2 or weight.shape[0] != x_seq.shape[-1]:
        raise ValueError(f"weight {tuple(weight.shape)} does not fit x {tuple(x_seq.shape)}")
    shape = (*x_seq.shape[:-1], weight.shape[1])
    x2d = x_seq.reshape(-1, x_seq.shape[-1])
    v0 = _initial_state(state, torch.Size(shape[1:]), x_seq)
    if _needs_grad(x_seq, weight, bias, None if state is None else state.v):
        if state is not None and state.v.requires_grad:
            v0 = state.v.expand(shape[1:])
        spikes, u = _LIFLayer.apply(x2d, weight, bias, v0, shape, params)
        return spikes, LIFState(u)
    with torch.no_grad():
        currents = torch.mm(x2d, weight) if bias is None else torch.addmm(bias, x2d, weight)
        currents = currents.view(shape)
        _forward_loop(currents, v0, params, None, currents)  # spikes overwrite currents
    return currents, LIFState(v0)


class _SynapticFilter(torch.autograd.Function):
    """``i[t] = alpha * i[t-1] + x[t]``; backward: ``g_x[t] = g_i[t] + alpha * g_x[t+1]``."""

    @staticmethod
    def forward(ctx, x: Tensor, alpha: Tensor | float, i0: Tensor):
        out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        previous = i0
        for x_t, i_t in zip(x.unbind(0), out.unbind(0), strict=True):
            torch.mul(previous, alpha, out=i_t)  # alpha * i + x: two roundings, as cuba_lif_step
            i_t.add_(x_t)
            previous = i_t
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        grad = grad_out.clone()
        slices = grad.unbind(0)
        for t in range(len(slices) - 2, -1, -1):
            slices[t].add_(slices[t + 1] * ctx.alpha)
        return grad, None, slices[0] * ctx.alpha


def synaptic_filter(x: Tensor, alpha: Tensor | float, i0: Tensor | None = None) -> Tensor:
    """The synaptic current of a current-based LIF over time, ``x [T, ...] -> i [T, ...]``
    with ``i[t] = alpha * i[t-1] + x[t]`` from ``i0`` (zero): linear and never reset, so it
    runs ahead of the membrane. Bit-for-bit :func:`~neurorl.core.lif.cuba_lif_step`'s current;
    differentiable in ``x`` and ``i0`` (not in ``alpha``)."""
    step_shape = torch.broadcast_shapes(x.shape[1:], torch.as_tensor(alpha).shape)
    if i0 is None:
        i0 = torch.zeros(step_shape, dtype=x.dtype, device=x.device)
    return _SynapticFilter.apply(x, alpha, i0.expand(step_shape))


def cuba_lif_sequence(
    currents: Tensor, params: CubaLIFParameters, state: CubaLIFState | None = None
) -> tuple[Tensor, CubaLIFState]:
    """Current-based LIF over time, ``currents [T, ...] -> (spikes [T, ...], state)``:
    :func:`synaptic_filter` then the fused :func:`lif_sequence` on its current (the membrane
    ``v = beta * v + i``, threshold, reset). Bit-for-bit ``run_sequence(cuba_lif_step, ...)``
    with one autograd node per stage instead of several per step. A learned ``alpha``
    (a tensor that requires a gradient) takes the plain step loop."""
    if isinstance(params.alpha, Tensor) and params.alpha.requires_grad:
        return run_sequence(cuba_lif_step, currents, state, params)  # type: ignore[return-value]
    i = synaptic_filter(currents, params.alpha, None if state is None else state.i)
    membrane = LIFParameters(
        params.beta, params.threshold, params.reset, params.v_reset, params.surrogate
    )
    spikes, final = lif_sequence(i, membrane, None if state is None else LIFState(state.v))
    return spikes, CubaLIFState(i[-1], final.v)
