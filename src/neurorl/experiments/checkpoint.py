"""Atomic checkpoint files and safe loading (tensors and plain data only, never pickled code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from neurorl.errors import CheckpointError
from neurorl.files import atomic_write_bytes


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda file: file.write(text.encode()))


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save tensors, numbers, strings, lists and dicts atomically with ``torch.save``."""
    atomic_write_bytes(path, lambda file: torch.save(state, file))


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a bad file raises :class:`CheckpointError`."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises several types for corrupted or truncated files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"checkpoint {path} is corrupted or truncated ({reason})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a neurorl checkpoint")
    return state
