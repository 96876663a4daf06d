"""Training runs as Ray tasks: ``neurorl compare`` and ``neurorl sweep`` with ``--workers N``
(a local Ray cluster of N processes) or ``--address ADDR`` (a running cluster, e.g. ``auto``
or ``head-node:6379``; every node needs neurorl installed and the ``--out`` folder on a
filesystem that all of them share).

A run is one task with one CPU; only its experiment name, config overrides and output folder
travel. The task writes its run folder exactly as ``neurorl train`` does, so a run trained on
the cluster is bit-for-bit the run trained in this process (same config and seed: the same
``metrics.csv``). A run that fails with a user error (e.g. a diverged run) is reported in one
line after the others have finished; what they wrote is kept.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurorl.errors import NeurorlError, os_error_line


@dataclass(frozen=True)
class Cluster:
    """Where runs train: ``workers`` local processes (1 and no ``address``: in this process,
    one after another) or the Ray cluster at ``address``; ``threads``: torch threads per run."""

    workers: int = 1
    address: str | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise NeurorlError(f"--workers must be >= 1, got {self.workers}")
        if self.address is not None and self.workers != 1:
            raise NeurorlError("give --workers (a local cluster) or --address, not both")

    @property
    def in_process(self) -> bool:
        return self.workers == 1 and self.address is None


IN_PROCESS = Cluster()


@dataclass(frozen=True)
class RunRequest:
    """One run to train: ``neurorl train NAME --set key=value ...`` (seed among the overrides);
    ``label`` names it in progress lines and errors."""

    name: str
    overrides: dict[str, Any]
    label: str


def train_task(name: str, overrides: dict[str, Any], out: str, threads: int) -> tuple[bool, str]:
    """Train one run (in a Ray worker): ``(True, run folder)`` or ``(False, error line)``."""
    import torch

    from neurorl.experiments.runner import create_run, train

    torch.set_num_threads(threads)
    try:
        return True, str(train(create_run(name, overrides, Path(out)), quiet=True))
    except NeurorlError as error:
        return False, str(error)
    except OSError as error:  # an unwritable or full --out: the user's to fix
        return False, os_error_line(error)


def train_on_ray(
    requests: list[RunRequest], out: Path, cluster: Cluster, quiet: bool
) -> list[Path]:
    """Train every request as a Ray task; their run folders, in the order of ``requests``.
    Joins the Ray instance this process already has, if any, else starts or joins
    ``cluster``'s (and shuts down what it started)."""
    import ray

    started = not ray.is_initialized()
    if started:
        _init(ray, cluster)
    try:
        task = ray.remote(num_cpus=1)(train_task)
        pending = {
            task.remote(r.name, r.overrides, str(out.resolve()), cluster.threads): index
            for index, r in enumerate(requests)
        }
        paths: dict[int, Path] = {}
        errors: list[str] = []
        waiting = list(pending)
        while waiting:
            (done,), waiting = ray.wait(waiting, num_returns=1)
            request = requests[pending[done]]
            ok, value = ray.get(done)
            if ok:
                paths[pending[done]] = Path(value)
            else:
                errors.append(f"{request.label}: {value}")
            if not quiet:
                print(f"{request.label}: {'done' if ok else 'failed'}", file=sys.stderr)
    finally:
        if started:
            ray.shutdown()
    if errors:
        more = f" (and {len(errors) - 1} more failed runs)" if len(errors) > 1 else ""
        raise NeurorlError(errors[0] + more)
    return [paths[index] for index in range(len(requests))]


def _init(ray: Any, cluster: Cluster) -> None:
    """Start a local cluster of ``cluster.workers`` CPUs or join ``cluster.address``."""
    if cluster.address is None:
        ray.init(
            num_cpus=cluster.workers,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,  # the runs are quiet; an error comes back with its task
        )
        return
    host, sep, port = cluster.address.rpartition(":")
    if sep and port.isdigit():  # Ray retries an unreachable head forever: check it first
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as error:
            raise NeurorlError(
                f"no Ray cluster answers at {cluster.address} ({error.strerror or error})"
            ) from None
    try:
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise NeurorlError(
            f"cannot join the Ray cluster at {cluster.address}: {first_line}"
        ) from None
