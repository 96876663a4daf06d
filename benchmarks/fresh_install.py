"""Time the README's install in a fresh virtual environment (Python of this interpreter).

Creates a venv in a temporary folder, runs ``pip install torch==2.13.0 -e ".[test]"`` there
against this checkout, and records the wall time and the torch build it got (it must stay the
CPU build). pip's download cache is whatever this machine has.

    python benchmarks/fresh_install.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from report import ROOT, provenance, write_section


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        env = Path(scratch) / "venv"
        venv.create(env, with_pip=True)
        python = env / "bin" / "python"
        started = time.perf_counter()
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "torch==2.13.0", "-e", ".[test]"],
            cwd=ROOT,
            check=True,
        )
        seconds = time.perf_counter() - started
        torch = subprocess.run(
            [python, "-c", "import torch; print(torch.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    body = (
        f'{provenance()}\n\n`pip install torch==2.13.0 -e ".[test]"` in a fresh venv '
        f"(Python {sys.version.split()[0]}): {seconds:.0f} s, torch {torch}."
    )
    print(body)
    print(write_section("Fresh install", body))


if __name__ == "__main__":
    main()
