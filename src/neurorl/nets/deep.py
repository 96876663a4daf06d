"""A deep function approximator that is a spiking (SNN) or a ReLU (ANN) network, one config.

Akl et al. 2023 (``shared/design/papers/akl2023.md``) use the same layer sizes as an SNN or
an ANN under the same DQN or TD3 code; :class:`DeepNet` is that approximator:
``x [..., n_in] -> y [..., n_out]`` (Q-values, an actor's pre-tanh action, a critic's value).

SNN (``kind="snn"``), per decision of ``steps`` = T time steps, starting from rest:

* encoding: ``constant`` (the observation as a constant current at every step, the paper's
  default), ``two_neuron`` (``x -> [relu(x/s), relu(-x/s)]``, s the running max ``|x|``
  per dimension, Akl et al.), ``population`` (PopSAN's 10 learnable Gaussian fields per
  dimension of ``x/s``, Tang et al. 2020) or ``poisson`` (Bernoulli spikes of the two-neuron
  code, p = min(1, value) per step);
* hidden layers of current-based LIF neurons (:func:`neurorl.core.lif.cuba_lif_step`):
  ``i[t] = alpha i[t-1] + W z[t]``, ``v[t] = beta v[t-1] + i[t]``, spike ``v > threshold``,
  then reset (hard to 0, or soft by subtraction); surrogate gradients in the backward pass;
* readout (a non-spiking output): ``membrane_last`` = the membrane at step T of an
  integrating output layer (the paper's alpha 0, beta 1: ``v[T] = sum_t W z[t] + b``), or
  ``rate_mean`` = PopSAN's output populations of ``output_population`` spiking neurons per
  output, their mean rate over T decoded by a learnable weighted sum per output.

Per-neuron randomisation (``randomise``): alpha, beta and threshold of every spiking neuron
drawn once at build, ``normal``: N(value, (spread * value)^2), ``uniform``: U(value (1 -
spread), value (1 + spread)); decays clipped to [0, 1], thresholds to >= 1e-3 (Akl et al.).

ANN (``kind="ann"``): the same encoding (an input layer of rates instead of spikes), ReLU
hidden layers and a linear output.

Energy proxies per decision (:meth:`DeepNet.energy`; Akl et al.'s convention): ``spikes``
(all spiking neurons, T steps), ``synops`` (synaptic operations: each spike times its
fan-out, accumulate-only; Poisson input spikes included) and ``macs`` (multiply-accumulates:
the ANN's layers; for the SNN, the dense input layer on a non-spike encoding, computed once
per decision as its input is constant, and the ``rate_mean`` decoder).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import nir
import numpy as np
import torch
from torch import Tensor, nn

from neurorl.core.encoders import GaussianPopulationEncoder, two_neuron
from neurorl.core.layers import cuba_lif_sequence
from neurorl.core.lif import CubaLIFParameters
from neurorl.core.surrogate import PSEUDO_DERIVATIVES, Surrogate
from neurorl.errors import NotExportableError

Encoding = Literal["constant", "two_neuron", "population", "poisson"]
READOUT_PREFIX = "readout"
MIN_THRESHOLD = 1e-3


@dataclass(frozen=True)
class DeepNetConfig:
    """The approximator; decays are per time step, thresholds in units of the input current."""

    kind: Literal["snn", "ann"] = "snn"
    hidden: tuple[int, ...] = (64, 64)
    steps: int = 3  # T, simulation steps per decision (env step)
    current_decay: float = 0.5  # alpha
    voltage_decay: float = 0.5  # beta
    threshold: float = 0.2
    reset: Literal["soft", "hard"] = "hard"
    surrogate: str = "fast_sigmoid"
    surrogate_slope: float = 100.0  # Akl et al.: d z / d v = 1 / (100 |v - thr| + 1)^2
    encoding: Encoding = "constant"
    population_size: int = 10  # input neurons per input dimension (population encoding)
    readout: Literal["membrane_last", "rate_mean"] = "membrane_last"
    output_population: int = 10  # spiking neurons per output (rate_mean readout)
    randomise: Literal["none", "uniform", "normal"] = "none"
    spread: float = 0.1  # relative std (normal) or half-width (uniform) of the randomisation
    bias: bool = True

    def __post_init__(self) -> None:
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"net.hidden must be one or more sizes >= 1, got {self.hidden}")
        for name in ("steps", "population_size", "output_population"):
            if getattr(self, name) < 1:
                raise ValueError(f"net.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("current_decay", "voltage_decay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"net.{name} (per step) must be in [0, 1], got {getattr(self, name)}"
                )
        if self.threshold <= 0:
            raise ValueError(f"net.threshold must be > 0, got {self.threshold}")
        if self.surrogate not in PSEUDO_DERIVATIVES:
            known = ", ".join(sorted(PSEUDO_DERIVATIVES))
            raise ValueError(f"net.surrogate '{self.surrogate}' is unknown (known: {known})")
        if self.surrogate_slope <= 0:
            raise ValueError(f"net.surrogate_slope must be > 0, got {self.surrogate_slope}")
        if not 0.0 <= self.spread < 1.0:
            raise ValueError(f"net.spread must be in [0, 1), got {self.spread}")
        if self.kind == "ann" and self.readout != "membrane_last":
            raise ValueError("net.readout 'rate_mean' needs a spiking network (net.kind=snn)")

    def build(self, n_in: int, n_out: int, generator: torch.Generator) -> DeepNet:
        return DeepNet(self, n_in, n_out, generator)


class Activity(NamedTuple):
    """Spike counts per sample ``[...]`` of one decision: input (Poisson) and each layer."""

    input_spikes: Tensor
    layer_spikes: tuple[Tensor, ...]


def _init_linear(n_in: int, n_out: int, bias: bool, generator: torch.Generator) -> nn.Linear:
    """A dense layer with weights N(0, 1/fan_in) (std 1/sqrt(fan_in), Akl et al.), bias 0."""
    layer = nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n_out, n_in, generator=generator) / math.sqrt(n_in))
        if bias:
            layer.bias.zero_()
    return layer


def _randomised(
    value: float, n: int, config: DeepNetConfig, generator: torch.Generator, upper: float
) -> Tensor:
    """One value per neuron ``[n]`` around ``value`` (see the module docstring), clipped."""
    if config.randomise == "normal":
        draw = value * (1.0 + config.spread * torch.randn(n, generator=generator))
    elif config.randomise == "uniform":
        draw = value * (1.0 + config.spread * (2.0 * torch.rand(n, generator=generator) - 1.0))
    else:
        draw = torch.full((n,), float(value))
    lower = MIN_THRESHOLD if upper == math.inf else 0.0
    return draw.clamp(lower, upper)


def _device_of(generator: torch.Generator | None, fallback: Tensor) -> torch.device:
    """Where ``generator`` draws (a CPU stream may drive a network on another device)."""
    return fallback.device if generator is None else generator.device


class DeepNet(nn.Module):
    """The network of a :class:`DeepNetConfig`; ``forward(x [..., n_in]) -> [..., n_out]``.

    Weights and per-neuron randomisation are drawn from ``generator``. Running input scales
    (two_neuron, population, poisson) grow with :meth:`observe` and are part of the state.
    """

    def __init__(
        self, config: DeepNetConfig, n_in: int, n_out: int, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.config, self.n_in, self.n_out = config, n_in, n_out
        self.register_buffer("input_scale", torch.zeros(n_in))
        self.population = None
        if config.encoding == "population":
            k = config.population_size
            # PopSAN's fields over (-3, 3) at std sqrt(0.15) (0.58 spacings), here over the
            # max-scaled input in (-1, 1)
            width = 0.58 * 2.0 / max(k - 1, 1)
            self.population = GaussianPopulationEncoder(n_in, k, (-1.0, 1.0), width)
            encoded = n_in * k
        else:
            encoded = 2 * n_in if config.encoding in ("two_neuron", "poisson") else n_in
        spiking_out = config.kind == "snn" and config.readout == "rate_mean"
        last = n_out * config.output_population if spiking_out else n_out
        sizes = (encoded, *config.hidden, last)
        self.layers = nn.ModuleList(
            _init_linear(a, b, config.bias, generator) for a, b in itertools.pairwise(sizes)
        )
        self.decoder_weight = self.decoder_bias = None
        if spiking_out:  # PopSAN's decoder: uniform in +-1/sqrt(k), like PopulationDecoder
            bound = 1.0 / math.sqrt(config.output_population)
            shape = (n_out, config.output_population)
            self.decoder_weight = nn.Parameter(
                (2 * torch.rand(shape, generator=generator) - 1) * bound
            )
            self.decoder_bias = nn.Parameter(
                (2 * torch.rand(n_out, generator=generator) - 1) * bound
            )
        spiking_sizes = (*config.hidden, last) if spiking_out else config.hidden
        self.neurons: list[CubaLIFParameters] = []
        if config.kind == "snn":
            surrogate = Surrogate(config.surrogate, config.surrogate_slope)
            for index, n in enumerate(spiking_sizes):
                for name, value, upper in (
                    ("alpha", config.current_decay, 1.0),
                    ("beta", config.voltage_decay, 1.0),
                    ("threshold", config.threshold, math.inf),
                ):
                    self.register_buffer(
                        f"{name}{index}", _randomised(value, n, config, generator, upper)
                    )
                self.neurons.append(CubaLIFParameters(reset=config.reset, surrogate=surrogate))

    # --- parameters as one flat vector (the policy saved in best.pt) ----------------------

    def to_vector(self) -> Tensor:
        """Every parameter and buffer (state_dict order) as one flat vector ``[D]``."""
        return torch.cat([value.detach().reshape(-1) for value in self.state_dict().values()])

    def load_vector(self, vector: Tensor) -> None:
        """The inverse of :meth:`to_vector`."""
        state, offset = self.state_dict(), 0
        for key, value in state.items():
            state[key] = vector[offset : offset + value.numel()].view_as(value)
            offset += value.numel()
        if offset != vector.numel():
            raise ValueError(f"vector has {vector.numel()} values, the network {offset}")
        self.load_state_dict(state)

    # --- forward ----------------------------------------------------------------------------

    @torch.no_grad()
    def observe(self, x: Tensor) -> None:
        """Grow the running max ``|x|`` per input dimension (the two-neuron scale)."""
        self.input_scale.copy_(
            torch.maximum(self.input_scale, x.detach().abs().reshape(-1, self.n_in).amax(0))
        )

    def neuron(self, index: int) -> CubaLIFParameters:
        """The CubaLIF parameters of spiking layer ``index`` (per-neuron tensors)."""
        return self.neurons[index]._replace(
            alpha=getattr(self, f"alpha{index}"),
            beta=getattr(self, f"beta{index}"),
            threshold=getattr(self, f"threshold{index}"),
        )

    def encode(self, x: Tensor) -> Tensor:
        """``x [..., n_in]`` -> input currents or rates ``[..., n_encoded]``."""
        if self.config.encoding == "constant":
            return x
        scaled = x / self.input_scale.clamp_min(1e-6)
        if self.population is not None:
            return self.population(scaled)
        return two_neuron(scaled)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.run(x, generator)[0]

    def run(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Activity]:
        """``x [..., n_in] -> (y [..., n_out], activity)``; ``generator`` draws Poisson spikes."""
        drive = self.encode(x)
        no_spikes = torch.zeros(x.shape[:-1], device=x.device)
        if self.config.kind == "ann":
            for layer in self.layers[:-1]:
                drive = torch.relu(layer(drive))
            return self.layers[-1](drive), Activity(no_spikes, ())
        steps = self.config.steps
        if self.config.encoding == "poisson":
            p = drive.clamp(0.0, 1.0).expand(steps, *drive.shape)
            uniform = torch.rand(p.shape, generator=generator, device=_device_of(generator, p))
            spikes = (uniform.to(p.device) < p).to(p.dtype)
            input_spikes = spikes.sum((0, -1))
            currents = self.layers[0](spikes)
        else:  # a constant input: the first layer's product once, held for T steps
            input_spikes = no_spikes
            current = self.layers[0](drive)
            currents = current.expand(steps, *current.shape)
        counts = []
        spiking = len(self.neurons)
        for index in range(spiking):
            spikes, _ = cuba_lif_sequence(currents, self.neuron(index))
            counts.append(spikes.sum((0, -1)))
            if index + 1 < len(self.layers):
                currents = self.layers[index + 1](spikes)
        activity = Activity(input_spikes, tuple(counts))
        if self.decoder_weight is None:  # integrating output: v[T] = sum_t (W z[t]) + b
            return self.layers[-1](spikes.sum(0)), activity
        rates = spikes.mean(0).unflatten(-1, (self.n_out, self.config.output_population))
        return (rates * self.decoder_weight).sum(-1) + self.decoder_bias, activity

    # --- energy ---------------------------------------------------------------------------

    def energy(self, activity: Activity) -> dict[str, Tensor]:
        """Per-sample energy proxies of one decision (module docstring): spikes, synops, macs."""
        sizes = [layer.in_features for layer in self.layers] + [self.layers[-1].out_features]
        dense = [layer.in_features * layer.out_features for layer in self.layers]
        if self.config.kind == "ann":
            zero = torch.zeros_like(activity.input_spikes)
            return {"spikes": zero, "synops": zero, "macs": zero + sum(dense)}
        synops = activity.input_spikes * sizes[1]
        for index, count in enumerate(activity.layer_spikes):
            if index + 1 < len(self.layers):
                synops = synops + count * sizes[index + 2]
        macs = 0 if self.config.encoding == "poisson" else dense[0]
        if self.decoder_weight is not None:
            macs += self.decoder_weight.numel()
        return {
            "spikes": sum(activity.layer_spikes, torch.zeros_like(synops)),
            "synops": synops,
            "macs": torch.full_like(synops, float(macs)),
        }

    # --- NIR ------------------------------------------------------------------------------

    def to_nir(self, dt_ms: float | None = None) -> nir.NIRGraph:
        """The spiking network as NIR: ``input -> fc0 -> cuba0 -> ... -> fc_out -> readout``.

        The input is the encoded observation (``metadata["encoding"]``, scale in
        ``metadata["input_scale"]``), held for ``metadata["steps"]`` steps from rest; the
        readout is a NIR integrator ``I`` (``v += input`` per step) read at the last step,
        behind the output Affine (``membrane_last``: W, b / T) or behind the spiking output
        populations and the decoder as a block-diagonal Affine scaled by 1/T (``rate_mean``).
        """
        from neurorl.export.nir import DEFAULT_DT_MS, cuba_lif_to_nir

        if self.config.kind != "snn":
            raise NotExportableError("a ReLU network has no spiking policy to export")
        dt_ms = DEFAULT_DT_MS if dt_ms is None else dt_ms
        steps = self.config.steps
        nodes: dict[str, nir.NIRNode] = {}
        edges: list[tuple[str, str]] = []
        previous, metadata = "input", {}
        for index in range(len(self.neurons)):
            layer = self.layers[index]
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
            graph = cuba_lif_to_nir([(layer.weight.T, bias)], self.neuron(index), dt_ms)
            metadata = graph.metadata
            if index == 0:
                nodes["input"] = graph.nodes["input"]
            nodes[f"fc{index}"], nodes[f"cuba{index}"] = graph.nodes["fc0"], graph.nodes["cuba0"]
            edges += [(previous, f"fc{index}"), (f"fc{index}", f"cuba{index}")]
            previous = f"cuba{index}"
        if self.decoder_weight is None:
            out = self.layers[-1]
            weight = out.weight.detach().double().numpy()
            bias = np.zeros(self.n_out) if out.bias is None else out.bias.detach().double().numpy()
            bias = bias / steps
        else:
            blocks = torch.block_diag(*self.decoder_weight.detach().double().unbind(0))
            weight = (blocks / steps).numpy()
            bias = self.decoder_bias.detach().double().numpy() / steps
        nodes[f"{READOUT_PREFIX}_fc"] = nir.Affine(weight=weight.copy(), bias=bias.copy())
        nodes[READOUT_PREFIX] = nir.I(r=np.full(self.n_out, 1.0 / metadata["dt"]))
        nodes["output"] = nir.Output(np.array([self.n_out]))
        edges += [
            (previous, f"{READOUT_PREFIX}_fc"),
            (f"{READOUT_PREFIX}_fc", READOUT_PREFIX),
            (READOUT_PREFIX, "output"),
        ]
        metadata = {
            **metadata,
            "steps": steps,
            "encoding": self.config.encoding,
            "input_scale": self.input_scale.detach().double().numpy().copy(),
            "readout": self.config.readout,
        }
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
