"""The trainer contract: all that the runner (run folders, checkpoints, resume, evaluation,
plots, export) and the Python API know of an experiment's trainer.

A trainer is built from its experiment's config, ``Trainer(config)``, and owns every random
stream it draws from (derived from ``config.seed``), so that the same config gives the same
``metrics.csv`` and a run resumed from ``state_dict`` continues exactly as an uninterrupted
one. ``train_step`` does one unit of training (an ES generation, an episode, N env steps)
and returns one metrics row; the runner stops when ``finished()`` says so. ``docs/
adding-an-experiment.md`` walks through a trainer of 40 lines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal, Protocol

import nir
import numpy as np
import torch
from torch import Tensor

from neurorl.errors import NotExportableError

Checkpoint = Literal["best", "last"]


class Agent(Protocol):
    """A trained policy in Stable-Baselines3's and Gymnasium's terms."""

    def predict(
        self, observation: Any, state: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        """``(action, state)`` for one observation ``[obs_dim]`` or a batch ``[B, obs_dim]``;
        ``state`` is what the previous call returned (a recurrent network's state) or None at
        an episode's start."""
        ...


class Trainer(ABC):
    """What an experiment's trainer offers the runner (and nothing else is asked of it).

    Counters the runner reads after every ``train_step``: ``iteration`` (train steps done),
    ``env_steps`` and ``episodes`` (every one the trainer played, validation included).
    """

    config: Any
    iteration: int
    env_steps: int
    episodes: int

    # --- training -------------------------------------------------------------------------

    @property
    @abstractmethod
    def score_key(self) -> str:
        """The metrics key that decides which parameters ``best.pt`` keeps."""

    @property
    def keeps(self) -> Checkpoint:
        """``"best"``: best.pt keeps the parameters of the highest score (the later of equal
        ones); ``"last"``: the last scored parameters."""
        return "best"

    @property
    def snapshots(self) -> tuple[int, ...]:
        """Iterations whose scored parameters are also kept as
        ``checkpoints/iteration-N.pt`` and tested with best.pt (a learning curve on the
        test, read after training: nothing is selected on it)."""
        return ()

    @property
    @abstractmethod
    def budget(self) -> int:
        """The progress bar's total, in the trainer's own unit (generations, env steps)."""

    @property
    def progress(self) -> int:
        """Progress towards ``budget``, in the same unit."""
        return self.iteration

    @abstractmethod
    def finished(self) -> bool:
        """The budget is spent or the trainer's own stop criterion is met."""

    @abstractmethod
    def train_step(self) -> dict[str, float]:
        """One unit of training; one metrics row (``score_key`` among its keys, every value
        finite unless training diverged). The runner puts the counters ``iteration``,
        ``env_steps`` and ``episodes`` first in the row where the trainer leaves them out."""

    # --- parameters -------------------------------------------------------------------------

    @abstractmethod
    def params(self) -> Tensor:
        """The parameters that the last score belongs to, one flat vector ``[D]``."""

    def parameters_finite(self) -> bool:
        """False once training has put NaN or inf in the parameters it goes on from."""
        return bool(torch.isfinite(self.params()).all())

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything to resume from: tensors, numbers, strings, lists and dicts only (loaded
        with ``torch.load(weights_only=True)``)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    # --- the trained policy -------------------------------------------------------------------

    @abstractmethod
    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Test returns ``[episodes]`` of ``params`` (initial states drawn from ``env_seed``,
        learning off) and per-decision statistics (e.g. spikes per decision)."""

    @abstractmethod
    def agent(self, params: Tensor, seed: int = 0) -> Agent:
        """``params`` as an :class:`Agent` (``seed``: its own random draws, e.g. tie-breaks)."""

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        """The policy network as a NIR graph; :class:`NotExportableError` if it has none."""
        raise NotExportableError("this experiment's policy has no spiking network to export")

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        """Plots of the trained policy beyond the learning curve (written into ``folder``)."""
        return []
