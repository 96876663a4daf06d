"""neurorl: spiking and brain-inspired agents trained with RL and evolution."""

__version__ = "0.1.0"
