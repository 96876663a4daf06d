"""Shared by the benchmark scripts: where figures go (BENCHMARKS.md) and what they ran on.

BENCHMARKS.md holds one ``## Title`` section per benchmark; running a benchmark again
replaces its own section and leaves the others as they are.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
HEADER = (
    "# neurorl benchmarks\n\n"
    "Every figure here was printed by a script in `benchmarks/`; each section names the\n"
    "command, the machine and the date. Ratios compare implementations measured in the same\n"
    "run; anchors quoted from `shared/design/ARCHITECTURE.md` are marked as such.\n"
)


def machine() -> str:
    """CPU model, logical CPUs, OS and the load average now (other work skews timings)."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{model}, {os.cpu_count()} logical CPUs{gpu}, {platform.system()} {platform.release()}"
        f"{load}"
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
