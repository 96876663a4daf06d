"""Ahead-of-time compiled tensor functions (core/aot.py), cached on disk."""

import os
import time
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from neurorl.core import aot
from neurorl.core.aot import compile_ahead


class Pair(NamedTuple):
    a: Tensor
    b: Tensor


def affine(x: Tensor, pair: Pair, weight: Tensor, shift: float) -> tuple[Tensor, Pair]:
    y = x @ weight + shift
    return y.relu(), Pair(pair.a * y.sum(-1, keepdim=True), pair.b.sigmoid())


def test_compile_ahead_runs_any_leading_size_and_is_built_once(tmp_path, monkeypatch):
    """The package takes the dynamic leading dim at sizes other than the example's (1 too),
    non-contiguous inputs and NamedTuples, returns what the function returns, and is built
    once into the cache folder; loading it renews its time; a damaged file there is built
    again, not loaded, and that build deletes the packages unused for STALE_DAYS."""
    monkeypatch.setenv("NEURORL_CACHE", str(tmp_path))
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 4, generator=generator)
    example = (
        torch.randn(2, 3, generator=generator),
        Pair(torch.randn(2, 1, generator=generator), torch.randn(2, 5, generator=generator)),
        weight,
        0.5,  # a constant: compiled in
    )
    args = {"dynamic": (1, (1, 1), 0, 0), "sources": (__file__,)}
    compiled = compile_ahead(affine, example, **args)
    assert len(list((tmp_path / "aot").glob("*.pt2"))) == 1
    for rows in (1, 7):
        x = torch.randn(rows, 3, generator=generator)
        pair = Pair(torch.randn(rows, 1, generator=generator), torch.randn(5, rows).t())
        out = compiled(x, pair, weight, 0.5)
        assert isinstance(out[1], Pair)
        torch.testing.assert_close(out, affine(x, pair, weight, 0.5))
    assert compile_ahead(affine, example, **args) is compiled
    (package,) = (tmp_path / "aot").iterdir()  # and no temporary files left
    _age(package, aot.STALE_DAYS + 1)
    monkeypatch.setattr(aot, "_loaded", {})  # a new process loads it: in use again
    compile_ahead(affine, example, **args)
    assert package.stat().st_mtime > time.time() - 3600
    stale, recent = tmp_path / "aot" / "stale.pt2", tmp_path / "aot" / "recent.pt2"
    for path, days in ((stale, aot.STALE_DAYS + 1), (recent, aot.STALE_DAYS - 1)):
        path.write_bytes(b"another version's package")
        _age(path, days)
    package.write_bytes(b"not a package")
    monkeypatch.setattr(aot, "_loaded", {})  # a new process
    rebuilt = compile_ahead(affine, example, **args)
    torch.testing.assert_close(rebuilt(*example), affine(*example))
    assert package.stat().st_size > 1000
    assert not stale.exists() and recent.exists()


def _age(path: Path, days: float) -> None:
    """Set ``path``'s access and modification times ``days`` back."""
    then = time.time() - days * 86400.0
    os.utime(path, (then, then))


def gather_rows(x: Tensor, slots: Tensor) -> Tensor:
    return (x[slots] * 2.0).sum(0)


def test_a_named_dynamic_dim_takes_sizes_of_its_own(tmp_path, monkeypatch):
    """A leaf given a name in ``dynamic`` has a first dim of its own size, unrelated to the
    leading dim of the other tensors (e.g. a stack's slots: width x networks)."""
    monkeypatch.setenv("NEURORL_CACHE", str(tmp_path))
    example = (torch.randn(2, 3), torch.zeros(2, 4, dtype=torch.long))
    compiled = compile_ahead(gather_rows, example, dynamic=(1, "width"), sources=(__file__,))
    generator = torch.Generator().manual_seed(0)
    for rows, width in ((5, 1), (3, 6)):
        x = torch.randn(rows, 3, generator=generator)
        slots = torch.randint(rows, (width, 4), generator=generator)
        torch.testing.assert_close(compiled(x, slots), gather_rows(x, slots))
