"""Write a benchmark's figures into BENCHMARKS.md: one ``## Title`` section per benchmark.

A section records the machine, the command, the date and the figures; running the benchmark
again replaces its own section and leaves the others as they are.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\n"
    "Every figure here was printed by a script in `benchmarks/`; the section says which command,\n"
    "on which machine and when. Ratios compare implementations measured in the same run.\n"
)


def machine() -> str:
    """A one-line description of this machine and the software that ran."""
    import torch

    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()} ({cpu}), {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def command() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])


def write_section(title: str, body: str) -> Path:
    """Replace (or append) the section ``## title`` of BENCHMARKS.md with ``body``."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    section = (
        f"## {title}\n\n"
        f"- machine: {machine()}\n- command: `{command()}`\n- date: {time.strftime('%Y-%m-%d')}\n\n"
        f"{body.strip()}\n"
    )
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS_MD.write_text(text.rstrip() + "\n")
    return BENCHMARKS_MD
