"""A pure tensor function compiled ahead of time by AOTInductor, cached on disk.

``torch.compile`` pays ~100-200 µs of Python per call (Dynamo's guards, AOTAutograd's and
inductor's wrappers) whatever the work: most of a time step of the paper network at a few
rows. An AOTInductor package runs the same inductor kernels behind one C++ call (~50 µs at
one row). It is built once per graph (~25 s on this machine) and kept in
``$NEURORL_CACHE`` (default ``~/.cache/neurorl``; safe to delete) under a key of everything
that shapes its code: the function's source files, torch version, CPU capability and
threads, the constants, the static dims and dtypes. Leading dims marked dynamic take any
size >= 1. Each load renews a package's modification time, and each build deletes the
packages not loaded for ``STALE_DAYS`` (those of other code versions, mostly).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import Tensor

Dynamic = int | str | tuple["Dynamic", ...]
STALE_DAYS = 30.0
_loaded: dict[str, Callable[..., Any]] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("NEURORL_CACHE", Path.home() / ".cache" / "neurorl")) / "aot"


def compile_ahead(
    fn: Callable[..., Any], args: tuple, dynamic: Dynamic, sources: Sequence[str]
) -> Callable[..., Any]:
    """``fn(*args)`` as a cached AOTInductor package. ``args``: nested tuples (NamedTuples
    too) of tensors and constants; ``dynamic``: how many leading dims of each tensor take
    any size, one int for a whole subtree or a tuple shaped like it (e.g. ``(2, (1, 0))``):
    the n-th leading dim of every tensor is one size; a name instead of an int: the first
    dim only, a size of its own, shared by the tensors given that name;
    the other dims, the dtypes and the constants are those of ``args`` (the constants are
    compiled in); ``sources``: the files whose code ``fn`` runs (their bytes key the
    cache). The result takes arguments shaped like ``args`` (their tensors made contiguous,
    as the package reads them) and returns what ``fn`` returns, computed by the same
    inductor kernels as ``torch.compile``'s."""
    leaves, spec = pytree.tree_flatten(args)
    graph = _Graph(fn, leaves, spec, _leaf_dims(dynamic, args))
    key = graph.key(sources)
    if key not in _loaded:
        path = cache_dir() / f"{key}.pt2"
        run = _load(path) if path.is_file() else None
        if run is None:  # not built yet, or a damaged file
            with warnings.catch_warnings():  # torch's own deprecations: not the user's to fix
                warnings.simplefilter("ignore", FutureWarning)
                graph.build(path)
            run = _runner(path)
            prune_cache()
        else:
            with contextlib.suppress(OSError):  # a read-only cache still serves its packages
                os.utime(path)
        template = fn(*args)

        def call(*call_args: Any) -> Any:
            inputs = [tensor.contiguous() for tensor in _tensors(call_args)]
            return _rebuild(template, iter(run(inputs)))

        _loaded[key] = call
    return _loaded[key]


def prune_cache(max_age_days: float = STALE_DAYS) -> list[Path]:
    """Delete the cached packages last loaded (or built) more than ``max_age_days`` ago;
    returns their paths. A package deleted under another process is rebuilt there."""
    cutoff = time.time() - max_age_days * 86400.0
    stale = []
    for path in cache_dir().glob("*.pt2"):
        with contextlib.suppress(OSError):  # gone already (another process), or not ours
            if path.stat().st_mtime < cutoff:
                path.unlink()
                stale.append(path)
    return stale


def _leaf_dims(dynamic: Dynamic, tree: Any) -> list[int | str]:
    """``dynamic`` broadcast to every leaf of ``tree``, in ``pytree``'s order."""
    if isinstance(dynamic, int | str):
        return [dynamic] * len(pytree.tree_leaves(tree))
    return [n for d, child in zip(dynamic, tree, strict=True) for n in _leaf_dims(d, child)]


def _runner(path: Path) -> Callable[[list[Tensor]], list[Tensor]]:
    """The package's C++ runner: flat tensors in, flat tensors out."""
    return torch._inductor.aoti_load_package(str(path)).loader.boxed_run


def _load(path: Path) -> Callable[[list[Tensor]], list[Tensor]] | None:
    """:func:`_runner`, or None if the file is not a package that loads."""
    try:
        return _runner(path)
    except Exception:  # whatever a damaged file makes torch raise
        return None


def _tensors(tree: Any) -> Iterator[Tensor]:
    """The tensors of nested tuples (NamedTuples too), depth first: ``pytree``'s order for
    these, at a fraction of its cost."""
    if isinstance(tree, Tensor):
        yield tree
    elif isinstance(tree, tuple):
        for child in tree:
            yield from _tensors(child)


def _rebuild(template: Any, tensors: Iterator[Tensor]) -> Any:
    """``template`` (nested tuples) with its tensors replaced by ``tensors`` in order."""
    if isinstance(template, Tensor):
        return next(tensors)
    if isinstance(template, tuple):
        children = [_rebuild(child, tensors) for child in template]
        return type(template)(*children) if hasattr(template, "_fields") else tuple(children)
    return template


def _leading(dims: int | str) -> int:
    """How many leading dims a leaf's entry of ``dynamic`` makes dynamic."""
    return 1 if isinstance(dims, str) else dims


@functools.cache
def _file_digest(path: str) -> bytes:
    """A source file's digest, read once per process (the code it runs was loaded once)."""
    return hashlib.sha256(Path(path).read_bytes()).digest()


class _Flat(torch.nn.Module):
    """``fn`` over the tensor leaves of its arguments only (the constants compiled in),
    with a flat output."""

    def __init__(self, fn: Callable[..., Any], leaves: list, spec: Any):
        super().__init__()
        self.fn, self.leaves, self.spec = fn, leaves, spec

    def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
        given = iter(tensors)
        leaves = [next(given) if isinstance(x, Tensor) else x for x in self.leaves]
        return tuple(pytree.tree_leaves(self.fn(*pytree.tree_unflatten(leaves, self.spec))))


@dataclass(frozen=True)
class _Graph:
    """``fn`` on arguments flattened to ``leaves`` (``spec``), ``dims[i]`` dynamic leading
    dims of leaf ``i``."""

    fn: Callable[..., Any]
    leaves: list
    spec: Any
    dims: list[int | str]

    def key(self, sources: Sequence[str]) -> str:
        digest = hashlib.sha256()
        for source in (__file__, *sources):  # this module's wrapper is part of the graph
            digest.update(_file_digest(source))
        described = [
            (str(x.dtype), x.device.type, x.dim(), tuple(x.shape[_leading(n) :]), n)
            if isinstance(x, Tensor)
            else repr(x)
            for x, n in zip(self.leaves, self.dims, strict=True)
        ]
        context = (
            torch.__version__,
            platform.machine(),
            torch.backends.cpu.get_cpu_capability(),
            torch.get_num_threads(),
            f"{self.fn.__module__}.{self.fn.__qualname__}",
            str(self.spec),
            described,
        )
        digest.update(repr(context).encode())
        return digest.hexdigest()[:40]

    def build(self, path: Path) -> None:
        """Export with the dynamic dims on examples of size 2 (a size 1 would fix them) and
        package at ``path`` (written to a temporary file, then renamed)."""
        names: dict[int | str, torch.export.Dim] = {}
        examples, shapes = [], []
        for x, n in zip(self.leaves, self.dims, strict=True):
            if not isinstance(x, Tensor):
                continue
            dims = [n] if isinstance(n, str) else list(range(n))
            for d in dims:
                names.setdefault(d, torch.export.Dim(f"batch{d}", min=1))
            examples.append(x.new_zeros((2,) * len(dims) + tuple(x.shape[len(dims) :])))
            shapes.append({i: names[d] for i, d in enumerate(dims)} or None)
        program = torch.export.export(
            _Flat(self.fn, self.leaves, self.spec),
            tuple(examples),
            dynamic_shapes=(tuple(shapes),),
            strict=False,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            built = torch._inductor.aoti_compile_and_package(
                program, package_path=str(Path(scratch) / path.name)
            )
            os.replace(built, path)
