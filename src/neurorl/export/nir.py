"""NIR export and import of neurorl's spiking policies.

A :class:`~neurorl.nets.spiking_mlp.SpikingMLP` (population 1) becomes the NIR graph
``input -> fc0 (Affine) -> lif0 (LIF) -> fc1 (Affine) -> lif1 (LIF) -> ... -> output``, with
NIR parameters chosen so that the two peers that read NIR into PyTorch, snnTorch
(``snntorch.import_nir.import_from_nir``) and Norse (``norse.torch.from_nir``), simulate
neurorl's discrete dynamics ``v[t] = beta * v[t-1] + x[t]`` step for step.

How neurorl's discrete LIF maps onto NIR's continuous one
-------------------------------------------------------
NIR's LIF is ``tau dv/dt = (v_leak - v) + r * I``; both peers integrate it with one forward
Euler step per time step: ``v[t] = v + dt/tau * (v_leak - v + r * I)`` (Norse literally;
snnTorch as ``beta * v + I`` with ``beta = 1 - dt/tau`` and the threshold divided by
``r * dt / tau``, which is the same map). With ``v_leak = 0`` this is
``v[t] = (1 - dt/tau) * v + (r * dt/tau) * I``, so neurorl's step is reproduced by

* ``tau = dt / (1 - beta)``                        (beta = 1 - dt/tau),
* ``r = 1`` and the Affine weights and bias multiplied by ``tau / dt = 1 / (1 - beta)``
  (so that ``(r * dt/tau) * I`` is neurorl's ``x = W z + b``), ``v_leak = 0``.

snnTorch prints "[warning] scaling weights to avoid scaling inputs" for each layer: that is
the threshold division above, expected. ``r = tau/dt`` with unscaled weights is the other
exact map of the NIR equation, and snnTorch reads it bit-exactly, but Norse ignores ``r`` on
LIF nodes (it only logs a warning when ``r != 1``) and would drive the membrane ``1 - beta``
times too weakly; with ``r = 1`` both peers agree with neurorl. Weights are written in
float64 so that :func:`from_nir` recovers neurorl's float32 parameters bit for bit; the
peers cast them to float32, so their membranes equal neurorl's up to float32 round-off
(spikes agree unless a membrane lands within float32 round-off of the threshold, which the
tests' networks never do).

dt: snnTorch hard-codes ``dt = 1e-4`` (s) when it reads NIR; Norse takes ``from_nir(...,
dt=)`` (default 1e-3). The default ``dt_ms = 0.1`` therefore makes snnTorch reproduce the
policy; pass ``dt=graph.metadata["dt"]`` (seconds) to Norse. The graph records the dt it was
written for in ``metadata["dt"]`` (seconds, NIR's time unit).

Threshold and reset: ``v_threshold`` is neurorl's threshold (one value per layer for
snnTorch). A spike is ``v > threshold`` in neurorl and in both peers, and the reset is
applied in the same step as the spike (snnTorch is built with ``reset_delay=False``).
NIR's LIF resets to ``v_reset`` (a hard reset); it has no reset by subtraction. Both peers
reset to 0 and ignore ``v_reset``. So:

* ``reset="hard"`` with ``v_reset = 0``: reproduced exactly by both peers.
* ``reset="hard"`` with ``v_reset != 0``: written to the file, but both peers reset to 0.
* ``reset="soft"`` (neurorl's default): not representable in NIR. The graph is written with
  ``v_reset = 0`` and ``metadata["reset"] = "soft"``; :func:`from_nir` restores the soft
  reset, but snnTorch and Norse simulate a *hard reset to 0*, i.e. a different policy.

A :class:`NIRCompatibilityWarning` is issued for both lossy cases, and when the membrane
parameters differ from neuron to neuron (snnTorch then divides every threshold of a layer by
the ``dt/tau`` of a single neuron, ``np.unique(dt/tau)[0]``, without an error, and refuses
per-neuron thresholds).

Inputs: the policy is driven by a constant current (the encoded observation) held for
``steps`` time steps per decision, and the decision reads the output spike counts; the graph
records ``steps`` in ``metadata["steps"]``. A peer reproduces a decision by feeding the same
input ``steps`` times to a freshly reset module.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nir
import numpy as np
import torch
from torch import Tensor

from neurorl import __version__
from neurorl.core.lif import CubaLIFParameters, LIFParameters
from neurorl.core.surrogate import Surrogate
from neurorl.errors import NeurorlError, NotExportableError
from neurorl.files import atomic_write_bytes
from neurorl.nets.spiking_mlp import SpikingMLP

__all__ = [
    "DEFAULT_DT_MS",
    "NIRCompatibilityWarning",
    "cuba_lif_to_nir",
    "from_nir",
    "read_graph",
    "to_nir",
    "write_graph",
]

#: snnTorch's fixed integration step when it imports NIR (1e-4 s).
SNNTORCH_DT_MS = 0.1
#: The dt that NIR time constants are written for unless told otherwise.
DEFAULT_DT_MS = SNNTORCH_DT_MS

_SECONDS_PER_MS = 1e-3


class NIRCompatibilityWarning(UserWarning):
    """The exported graph means something else to snnTorch or Norse than to neurorl."""


# ---------------------------------------------------------------------------------------
# export


def _per_neuron(value: float | Tensor, n: int, name: str) -> np.ndarray:
    """A layer parameter (float, or tensor broadcastable to ``[1, 1, n]``) as float64 ``[n]``."""
    tensor = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    try:
        tensor = torch.broadcast_to(tensor, (1, 1, n))
    except RuntimeError:
        raise NeurorlError(
            f"cannot export {name} of shape {tuple(tensor.shape)} for a layer of {n} neurons "
            "(NIR export takes one network: a float or a tensor broadcastable to [1, 1, neurons])"
        ) from None
    return tensor.reshape(n).numpy().copy()


def _check_dt(dt_ms: float) -> float:
    if not (isinstance(dt_ms, int | float) and math.isfinite(dt_ms) and dt_ms > 0):
        raise NeurorlError(f"dt must be a finite number of ms > 0, got {dt_ms!r}")
    return float(dt_ms)


def _tau_from_decay(decay: np.ndarray, dt_s: float, name: str) -> np.ndarray:
    if not np.all(np.isfinite(decay)) or np.any(decay < 0) or np.any(decay >= 1):
        raise NotExportableError(
            f"cannot export {name} outside [0, 1) (got {decay.min():g}..{decay.max():g}): "
            f"NIR's time constant is dt / (1 - {name}), finite and >= dt"
        )
    return dt_s / (1.0 - decay)


def _layers_of(net: SpikingMLP, params: Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
    """neurorl's layers of one network as float64 ``(W [out, in], b [out])`` (NIR layout)."""
    flat = torch.as_tensor(params).detach().cpu()
    if flat.dim() == 2 and flat.shape[0] == 1:
        flat = flat[0]
    if flat.dim() != 1:
        raise NeurorlError(
            f"NIR export takes the parameters of one network [D] (or [1, D]), "
            f"got shape {tuple(flat.shape)}"
        )
    if flat.numel() != net.num_parameters:
        raise NeurorlError(
            f"network {net.sizes} has {net.num_parameters} parameters, got {flat.numel()}"
        )
    if not torch.isfinite(flat).all():
        raise NeurorlError("cannot export parameters that contain NaN or inf")
    return [
        (weight[0].T.double().numpy(), bias[0, 0].double().numpy())
        for weight, bias in net.unflatten(flat[None])
    ]


def _warn_if_per_neuron(arrays: dict[str, np.ndarray], layer: str) -> None:
    varying = [name for name, array in arrays.items() if np.unique(array).size > 1]
    if varying:
        warnings.warn(
            f"{layer}: per-neuron {', '.join(varying)} exported; snnTorch's import_from_nir "
            "reads per-neuron time constants wrongly without an error (it divides the "
            "threshold of every neuron by the dt/tau of one neuron) and refuses per-neuron "
            "thresholds; Norse reads them correctly",
            NIRCompatibilityWarning,
            stacklevel=3,
        )


def to_nir(net: SpikingMLP, params: Tensor, dt_ms: float = DEFAULT_DT_MS) -> nir.NIRGraph:
    """The policy ``net`` with flat parameters ``params [D]`` as a NIR graph.

    Nodes ``input -> fc0 -> lif0 -> ... -> fc{L-1} -> lif{L-1} -> output`` (Affine, LIF);
    ``tau = dt / (1 - beta)``, ``r = 1``, ``v_leak = 0``, Affine weights and bias scaled by
    ``tau / dt``; metadata: ``dt`` (s), ``steps``, ``reset`` (see the module docstring).
    ``dt_ms`` is the step the time constants are written for: keep the default (0.1 ms,
    snnTorch's fixed dt) for a file that snnTorch must reproduce; Norse needs
    ``from_nir(graph, dt=graph.metadata["dt"])``.

    Warns (:class:`NIRCompatibilityWarning`) when snnTorch and Norse will simulate something
    else: a soft reset (they reset to 0), a hard reset to ``v_reset != 0`` (they reset to 0),
    or per-neuron tau or threshold (snnTorch reads them wrongly).
    """
    if not isinstance(net, SpikingMLP):
        raise NeurorlError(f"NIR export needs a SpikingMLP, got {type(net).__name__}")
    dt_s = _check_dt(dt_ms) * _SECONDS_PER_MS
    neuron = net.neuron
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(np.array([net.sizes[0]]))}
    edges: list[tuple[str, str]] = []
    previous = "input"
    for index, (weight, bias) in enumerate(_layers_of(net, params)):
        n = weight.shape[0]
        beta = _per_neuron(neuron.beta, n, "beta")
        threshold = _per_neuron(neuron.threshold, n, "threshold")
        v_reset = _per_neuron(neuron.v_reset, n, "v_reset")
        tau = _tau_from_decay(beta, dt_s, "beta")
        _warn_if_per_neuron({"tau": tau, "threshold": threshold}, f"layer {index}")
        scale = tau / dt_s  # = 1 / (1 - beta): r * dt / tau * (scale * x) == x with r = 1
        fc, lif = f"fc{index}", f"lif{index}"
        nodes[fc] = nir.Affine(weight=weight * scale[:, None], bias=bias * scale)
        nodes[lif] = nir.LIF(
            tau=tau,
            r=np.ones(n),
            v_leak=np.zeros(n),
            v_threshold=threshold,
            v_reset=np.zeros(n) if neuron.reset == "soft" else v_reset,
        )
        edges += [(previous, fc), (fc, lif)]
        previous = lif
    nodes["output"] = nir.Output(np.array([net.sizes[-1]]))
    edges.append((previous, "output"))

    if neuron.reset == "soft":
        warnings.warn(
            "NIR's LIF has no reset by subtraction: the policy's soft reset is kept in the "
            "graph's metadata for neurorl, but snnTorch and Norse will reset to 0 (hard reset)",
            NIRCompatibilityWarning,
            stacklevel=2,
        )
    elif torch.as_tensor(neuron.v_reset).ne(0).any():
        warnings.warn(
            "v_reset != 0 is written to the graph, but snnTorch and Norse reset to 0",
            NIRCompatibilityWarning,
            stacklevel=2,
        )
    metadata: dict[str, Any] = {
        "producer": "neurorl",
        "neurorl_version": __version__,
        "dt": dt_s,
        "steps": int(net.steps),
        "reset": neuron.reset,
        "surrogate": neuron.surrogate.name,
        "surrogate_slope": float(neuron.surrogate.slope),
        "input": (
            f"a constant current held for {net.steps} steps per decision; "
            "the decision reads the output spike counts"
        ),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def cuba_lif_to_nir(
    layers: Sequence[tuple[Tensor, Tensor]],
    neuron: CubaLIFParameters,
    dt_ms: float = DEFAULT_DT_MS,
) -> nir.NIRGraph:
    """A stack of current-based LIF layers as ``input -> fc0 -> cuba0 -> ... -> output``.

    ``layers``: ``[(W [in, out], b [out]), ...]`` in neurorl's layout (a leading population
    dimension of 1 is allowed), each followed by a CubaLIF layer running
    :func:`neurorl.core.lif.cuba_lif_step` with ``neuron``. Mapping (exact in both peers):
    ``tau_syn = dt / (1 - alpha)``, ``tau_mem = dt / (1 - beta)``, ``w_in = tau_syn / dt``,
    ``r = tau_mem / dt``, ``v_leak = 0``; Affine weights unscaled. Resets as in
    :func:`to_nir`: only ``reset="hard"`` with ``v_reset = 0`` is read identically by
    snnTorch and Norse (Norse needs ``from_nir(graph, dt=graph.metadata["dt"])``).
    """
    dt_s = _check_dt(dt_ms) * _SECONDS_PER_MS
    if not layers:
        raise NeurorlError("cuba_lif_to_nir needs at least one layer")
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    previous = "input"
    for index, (weight, bias) in enumerate(layers):
        w = torch.as_tensor(weight).detach().cpu().double()
        w = w.reshape(w.shape[-2:]) if w.dim() > 2 and w.shape[:-2].numel() == 1 else w
        if w.dim() != 2:
            raise NeurorlError(f"layer {index}: weight must be [in, out], got {tuple(w.shape)}")
        n_in, n = w.shape
        b = torch.as_tensor(bias).detach().cpu().double()
        if b.numel() != n:
            raise NeurorlError(f"layer {index}: bias must have {n} values, got {b.numel()}")
        if index == 0:
            nodes["input"] = nir.Input(np.array([n_in]))
        alpha = _per_neuron(neuron.alpha, n, "alpha")
        beta = _per_neuron(neuron.beta, n, "beta")
        threshold = _per_neuron(neuron.threshold, n, "threshold")
        tau_syn = _tau_from_decay(alpha, dt_s, "alpha")
        tau_mem = _tau_from_decay(beta, dt_s, "beta")
        _warn_if_per_neuron(
            {"tau_syn": tau_syn, "tau_mem": tau_mem, "threshold": threshold}, f"layer {index}"
        )
        fc, cuba = f"fc{index}", f"cuba{index}"
        nodes[fc] = nir.Affine(weight=w.T.numpy().copy(), bias=b.reshape(n).numpy().copy())
        nodes[cuba] = nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=tau_mem / dt_s,
            v_leak=np.zeros(n),
            v_threshold=threshold,
            v_reset=np.zeros(n)
            if neuron.reset == "soft"
            else _per_neuron(neuron.v_reset, n, "v_reset"),
            w_in=tau_syn / dt_s,
        )
        edges += [(previous, fc), (fc, cuba)]
        previous = cuba
    nodes["output"] = nir.Output(np.array([n]))
    edges.append((previous, "output"))
    if neuron.reset == "soft" or torch.as_tensor(neuron.v_reset).ne(0).any():
        warnings.warn(
            "snnTorch and Norse reset CubaLIF membranes to 0: a soft reset or v_reset != 0 "
            "is not reproduced by them",
            NIRCompatibilityWarning,
            stacklevel=2,
        )
    metadata = {"producer": "neurorl", "neurorl_version": __version__, "dt": dt_s}
    metadata["reset"] = neuron.reset
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


# ---------------------------------------------------------------------------------------
# files


def write_graph(path: str | os.PathLike[str], graph: nir.NIRGraph) -> None:
    """Write ``graph`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    if not isinstance(graph, nir.NIRGraph):
        raise NeurorlError(f"expected a NIR graph, got {type(graph).__name__}")
    buffer = io.BytesIO()
    nir.write(buffer, graph)
    atomic_write_bytes(Path(path), lambda file: file.write(buffer.getbuffer()))


def read_graph(path: str | os.PathLike[str]) -> nir.NIRGraph:
    """Read a NIR file; a missing, truncated or corrupted file raises :class:`NeurorlError`."""
    path = Path(path)
    if not path.exists():
        raise NeurorlError(f"NIR file {path} does not exist")
    if not path.is_file():
        raise NeurorlError(f"NIR file {path} is not a file")
    try:
        graph = nir.read(path)
    except Exception as error:  # h5py and nir raise OSError, KeyError, ValueError, ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = reason or type(error).__name__
        raise NeurorlError(f"NIR file {path} is corrupted or truncated ({reason})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NeurorlError(f"NIR file {path} holds a {type(graph).__name__}, not a graph")
    return graph


# ---------------------------------------------------------------------------------------
# import


def _chain(graph: nir.NIRGraph) -> list[str]:
    """The node names from the single input to the single output, or NeurorlError."""
    inputs = [k for k, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [k for k, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NeurorlError(
            f"NIR graph has {len(inputs)} inputs and {len(outputs)} outputs; "
            "neurorl reads graphs with one of each"
        )
    successors: dict[str, list[str]] = {}
    predecessors: dict[str, list[str]] = {}
    for source, target in graph.edges:
        for name in (source, target):
            if name not in graph.nodes:
                raise NeurorlError(f"NIR graph has an edge to an unknown node '{name}'")
        successors.setdefault(source, []).append(target)
        predecessors.setdefault(target, []).append(source)
    chain = [inputs[0]]
    while chain[-1] != outputs[0]:
        nexts = successors.get(chain[-1], [])
        if len(nexts) != 1 or len(predecessors.get(nexts[0], [])) != 1 or nexts[0] in chain:
            raise NeurorlError(
                f"NIR graph branches, merges or loops at node '{chain[-1]}'; neurorl reads "
                "feed-forward chains input -> Affine -> LIF -> ... -> output only"
            )
        chain.append(nexts[0])
    if len(chain) != len(graph.nodes):
        extra = sorted(set(graph.nodes) - set(chain))
        raise NeurorlError(f"NIR graph has nodes off the input-output chain: {extra}")
    return chain


def _array(value: Any, n: int, what: str) -> np.ndarray:
    try:
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    except (TypeError, ValueError):
        shape = np.shape(value)
        raise NeurorlError(f"{what} has shape {shape}, expected ({n},)") from None


def _shared(per_layer: list[np.ndarray], name: str, rounded: bool = False) -> float | Tensor:
    """One value for all neurons of all layers (float), or one per neuron shared by layers."""
    values = np.concatenate(per_layer)
    if np.all(values == values[0]):
        value = float(values[0])
        # undo the float64 round-off of dt / (dt / (1 - beta)): 0.9000000000000001 -> 0.9
        return float(f"{value:.15g}") if rounded else value
    if all(layer.shape == per_layer[0].shape for layer in per_layer) and all(
        np.array_equal(layer, per_layer[0]) for layer in per_layer
    ):
        return torch.as_tensor(per_layer[0], dtype=torch.float32)
    raise NeurorlError(
        f"NIR graph has layer-specific {name}; neurorl's SpikingMLP uses one neuron model "
        "for all layers"
    )


def from_nir(graph: nir.NIRGraph, dt_ms: float | None = None) -> tuple[SpikingMLP, Tensor]:
    """Rebuild ``(SpikingMLP, flat params [D])`` from a chain of Affine/Linear -> LIF layers.

    Reads the general NIR LIF (any ``r``, ``v_leak`` and ``tau``): with
    ``s = r * dt / tau`` per neuron, neurorl's weights are ``s * W``, its bias
    ``s * b + (dt / tau) * v_leak`` and ``beta = 1 - dt / tau``. ``dt_ms``: the integration
    step; by default the graph's ``metadata["dt"]`` (seconds), else 0.1 ms (snnTorch's).
    The reset is ``metadata["reset"]`` when the graph has one (neurorl's own files), else
    NIR's hard reset to ``v_reset``; ``metadata["steps"]`` gives the steps per decision
    (default 8). Graphs neurorl cannot represent raise :class:`NeurorlError`: other node
    types, branches or recurrence, ``tau < dt``, or neuron parameters that differ between
    layers.
    """
    if not isinstance(graph, nir.NIRGraph):
        raise NeurorlError(f"expected a NIR graph, got {type(graph).__name__}")
    metadata = graph.metadata if isinstance(graph.metadata, dict) else {}
    if dt_ms is None:
        dt_s = float(metadata["dt"]) if "dt" in metadata else DEFAULT_DT_MS * _SECONDS_PER_MS
    else:
        dt_s = _check_dt(dt_ms) * _SECONDS_PER_MS
    if not (math.isfinite(dt_s) and dt_s > 0):
        raise NeurorlError(f"NIR graph metadata has an invalid dt {metadata.get('dt')!r}")
    reset = str(metadata.get("reset", "hard"))
    if reset not in ("soft", "hard"):
        raise NeurorlError(f"NIR graph metadata has an unknown reset '{reset}'")

    chain = _chain(graph)
    body = chain[1:-1]
    if not body or len(body) % 2:
        raise NeurorlError(
            f"NIR graph {' -> '.join(chain)} is not a chain of (Affine -> LIF) layers"
        )
    sizes = [int(np.prod(graph.nodes[chain[0]].input_type["input"]))]
    flat: list[Tensor] = []
    betas, thresholds, v_resets = [], [], []
    for fc_name, lif_name in zip(body[::2], body[1::2], strict=True):
        fc, lif = graph.nodes[fc_name], graph.nodes[lif_name]
        if not isinstance(fc, nir.Affine | nir.Linear):
            raise NeurorlError(
                f"NIR node '{fc_name}' is a {type(fc).__name__}; neurorl expects Affine or "
                "Linear before each LIF"
            )
        if not isinstance(lif, nir.LIF):
            raise NeurorlError(
                f"NIR node '{lif_name}' is a {type(lif).__name__}; neurorl's SpikingMLP reads "
                "LIF layers only"
            )
        weight = np.asarray(fc.weight, dtype=np.float64)
        if weight.ndim != 2 or weight.shape[1] != sizes[-1]:
            raise NeurorlError(
                f"NIR node '{fc_name}' has weight shape {weight.shape}, expected (out, {sizes[-1]})"
            )
        n = weight.shape[0]
        bias = np.zeros(n) if isinstance(fc, nir.Linear) else _array(fc.bias, n, fc_name)
        tau = _array(lif.tau, n, f"{lif_name}.tau")
        r = _array(lif.r, n, f"{lif_name}.r")
        v_leak = _array(lif.v_leak, n, f"{lif_name}.v_leak")
        if not np.all(np.isfinite(tau)) or np.any(tau < dt_s):
            raise NeurorlError(
                f"NIR node '{lif_name}' has tau {tau.min():g}..{tau.max():g} s; neurorl's "
                f"discrete LIF needs finite tau >= dt = {dt_s:g} s"
            )
        decay = dt_s / tau  # 1 - beta
        gain = r * decay
        flat.append(torch.as_tensor((weight * gain[:, None]).T, dtype=torch.float32).flatten())
        flat.append(torch.as_tensor(bias * gain + v_leak * decay, dtype=torch.float32))
        betas.append(1.0 - decay)
        thresholds.append(_array(lif.v_threshold, n, f"{lif_name}.v_threshold"))
        v_reset = lif.v_reset if lif.v_reset is not None else 0.0
        v_resets.append(_array(v_reset, n, f"{lif_name}.v_reset"))
        sizes.append(n)
    out_shape = graph.nodes[chain[-1]].output_type["output"]
    if int(np.prod(out_shape)) != sizes[-1]:
        raise NeurorlError(f"NIR output has shape {out_shape}, the last layer {sizes[-1]}")
    params = torch.cat(flat)
    if not torch.isfinite(params).all():
        raise NeurorlError("NIR graph gives non-finite neurorl parameters")

    surrogate = Surrogate()
    if "surrogate" in metadata:
        try:
            surrogate = Surrogate(
                str(metadata["surrogate"]), float(metadata.get("surrogate_slope", 25.0))
            )
        except ValueError as error:
            raise NeurorlError(f"NIR graph metadata: {error}") from None
    neuron = LIFParameters(
        beta=_shared(betas, "tau", rounded=True),
        threshold=_shared(thresholds, "v_threshold"),
        reset=reset,  # type: ignore[arg-type]
        v_reset=0.0 if reset == "soft" else _shared(v_resets, "v_reset"),
        surrogate=surrogate,
    )
    steps = int(metadata.get("steps", SpikingMLP.steps))
    try:
        net = SpikingMLP(tuple(sizes), neuron, steps)
    except ValueError as error:
        raise NeurorlError(f"NIR graph: {error}") from None
    return net, params
