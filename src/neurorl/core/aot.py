"""A pure tensor function compiled ahead of time by AOTInductor, cached on disk.

``torch.compile`` pays ~100-200 µs of Python per call (Dynamo's guards, AOTAutograd's and
inductor's wrappers) whatever the work: most of a time step of the paper network at a few
rows. An AOTInductor package runs the same inductor kernels behind one C++ call (~50 µs at
one row). It is built once per graph (~25 s on this machine) and kept in
``$NEURORL_CACHE`` (default ``~/.cache/neurorl``) under a key of everything that shapes
its code: the function's source files, torch version, CPU capability and threads, the
constants, the static dims and dtypes. Leading dims marked dynamic take any size >= 1.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import Tensor

_loaded: dict[str, Callable[..., Any]] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("NEURORL_CACHE", Path.home() / ".cache" / "neurorl")) / "aot"


class _Flat(torch.nn.Module):
    """``fn(*args, **constants)`` over the tensor leaves of ``args`` only, flat output."""

    def __init__(self, fn: Callable[..., Any], leaves: list, spec: Any, constants: dict):
        super().__init__()
        self.fn, self.leaves, self.spec, self.constants = fn, leaves, spec, constants

    def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
        tensor_leaves = iter(tensors)
        leaves = [next(tensor_leaves) if isinstance(x, Tensor) else x for x in self.leaves]
        out = self.fn(*pytree.tree_unflatten(leaves, self.spec), **self.constants)
        return tuple(pytree.tree_leaves(out))


def compile_ahead(
    fn: Callable[..., Any],
    args: tuple,
    dynamic: Sequence[int],
    constants: dict[str, Any],
    sources: Sequence[str],
) -> Callable[..., Any]:
    """``fn(*args, **constants)`` as a cached AOTInductor package: ``dynamic[i]`` leading
    dims of every tensor in ``args[i]`` take any size (the others, dtypes and non-tensor
    leaves are fixed by ``args``); ``args`` are nested tuples (NamedTuples too) of tensors
    and constants; ``sources``: the files whose code ``fn`` runs (their bytes key the
    cache). The result takes arguments shaped like ``args`` (their tensors made contiguous,
    as the package reads them) and returns what ``fn`` returns, computed by the same
    inductor kernels as ``torch.compile``'s."""
    leaves, spec = pytree.tree_flatten(args)
    dims = pytree.tree_leaves(
        tuple(pytree.tree_map(lambda _, n=n: n, arg) for arg, n in zip(args, dynamic, strict=True))
    )
    key = _key(fn, leaves, spec, dims, constants, sources)
    if key not in _loaded:
        path = cache_dir() / f"{key}.pt2"
        if not path.is_file():
            with warnings.catch_warnings():  # torch's own deprecations: not the user's to fix
                warnings.simplefilter("ignore", FutureWarning)
                _build(fn, leaves, spec, dims, constants, path)
        run = torch._inductor.aoti_load_package(str(path)).loader.boxed_run
        template = fn(*args, **constants)

        def call(*call_args: Any) -> Any:
            inputs = [tensor.contiguous() for tensor in _tensors(call_args)]
            return _rebuild(template, iter(run(inputs)))

        _loaded[key] = call
    return _loaded[key]


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


@functools.cache
def _file_digest(path: str) -> bytes:
    """A source file's digest, read once per process (the code it runs was loaded once)."""
    return hashlib.sha256(Path(path).read_bytes()).digest()


def _key(
    fn: Callable[..., Any],
    leaves: list,
    spec: Any,
    dims: list[int],
    constants: dict[str, Any],
    sources: Sequence[str],
) -> str:
    digest = hashlib.sha256()
    for source in (__file__, *sources):  # this module's wrapper is part of the graph
        digest.update(_file_digest(source))
    described = [
        (str(x.dtype), x.device.type, x.dim(), tuple(x.shape[n:]), n)
        if isinstance(x, Tensor)
        else repr(x)
        for x, n in zip(leaves, dims, strict=True)
    ]
    context = (
        torch.__version__,
        platform.machine(),
        torch.backends.cpu.get_cpu_capability(),
        torch.get_num_threads(),
        f"{fn.__module__}.{fn.__qualname__}",
        str(spec),
        described,
        sorted((name, repr(value)) for name, value in constants.items()),
    )
    digest.update(repr(context).encode())
    return digest.hexdigest()[:40]


def _build(
    fn: Callable[..., Any],
    leaves: list,
    spec: Any,
    dims: list[int],
    constants: dict[str, Any],
    path: Path,
) -> None:
    """Export ``fn`` with its dynamic dims on examples of size 2 (a size 1 would fix them)
    and package it at ``path`` (written to a temporary file, then renamed)."""
    names: dict[int, torch.export.Dim] = {}
    examples, shapes = [], []
    for x, n in zip(leaves, dims, strict=True):
        if not isinstance(x, Tensor):
            continue
        for d in range(n):
            names.setdefault(d, torch.export.Dim(f"batch{d}", min=1))
        examples.append(x.new_zeros((2,) * n + tuple(x.shape[n:])))
        shapes.append({d: names[d] for d in range(n)} or None)
    module = _Flat(fn, leaves, spec, constants)
    program = torch.export.export(
        module, tuple(examples), dynamic_shapes=(tuple(shapes),), strict=False
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        built = torch._inductor.aoti_compile_and_package(
            program, package_path=str(Path(scratch) / path.name)
        )
        os.replace(built, path)
