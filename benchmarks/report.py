"""Shared by the benchmark scripts: where figures go (BENCHMARKS.md), what they ran on, and
how they refuse bad input (one line, a non-zero exit, nothing trained or written).

BENCHMARKS.md holds one ``## Title`` section per benchmark; running a benchmark again
replaces its own section and leaves the others as they are.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from neurorl.config import parse_set_options
from neurorl.errors import NeurorlError
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import resolve_config
from neurorl.provenance import machine

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
HEADER = (
    "# neurorl benchmarks\n\n"
    "Every figure here was printed by a script in `benchmarks/`; each section names the\n"
    "command, the machine and the date. Ratios compare implementations measured in the same\n"
    "run; anchors quoted from `shared/design/ARCHITECTURE.md` are marked as such.\n"
)


def command() -> str:
    """The command line that ran this script, relative to the repository root."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    return "python " + " ".join(shlex.quote(a) for a in [script, *sys.argv[1:]])


def provenance() -> str:
    """The machine, command and date lines every section starts with."""
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return f"- machine: {machine()}\n- command: `{command()}`\n- date: {now}"


def write_section(title: str, body: str) -> Path:
    """Replace (or append) the section ``## title`` of BENCHMARKS.md with ``body``."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS_MD.write_text(text.rstrip() + "\n")
    return BENCHMARKS_MD


def check_minimums(
    parser: argparse.ArgumentParser, args: argparse.Namespace, **minimums: float
) -> None:
    """``parser.error`` (one line, exit code 2) for a flag below its minimum, e.g. ``jobs=1``
    (a list flag: any of its values)."""
    for name, minimum in minimums.items():
        value = getattr(args, name)
        values = value if isinstance(value, list) else [value]
        if any(v is not None and v < minimum for v in values):
            parser.error(f"--{name.replace('_', '-')} must be >= {minimum}, got {value}")


def check_experiments(
    parser: argparse.ArgumentParser, names: Iterable[str], pairs: list[str] = ()
) -> tuple[dict[str, str], list[Any]]:
    """The ``--set`` pairs as a dict and each named experiment's config resolved with them; a
    bad name, key or value ends in ``parser.error`` before anything is trained."""
    try:
        overrides = parse_set_options(list(pairs))
        configs = [resolve_config(get_experiment(name), overrides) for name in names]
    except NeurorlError as error:
        parser.error(str(error))
    return overrides, configs


def main_with_one_line_errors(main: Callable[[], object]) -> None:
    """Run a benchmark's ``main``; a :class:`NeurorlError` on the way (e.g. a ``neurorl``
    command that failed) ends in one line and exit code 1 instead of a traceback."""
    try:
        main()
    except NeurorlError as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        sys.exit(1)
