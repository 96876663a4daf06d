"""The spiking core: neuron dynamics, surrogate gradients, encoders and decoders."""

import torch


def configure_cpu() -> None:
    """Flush denormal floats to zero: decaying traces otherwise slow CPU steps ~100x."""
    torch.set_flush_denormal(True)
