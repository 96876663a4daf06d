"""The wall time of `neurorl reproduce PAPER [--quick]`, from nothing: every run trained.

Runs the command in a fresh ``--out`` (a temporary folder unless ``--out`` names an empty or
new one), times it from the call to its last file, and writes the time, the load at the start
and the reproduction's own table to BENCHMARKS.md (section "Reproduction, PAPER[, quick]").
Bad flags or an unknown paper: one line, exit code 2, nothing run or written.

    python benchmarks/reproduce.py hasegan2022 --quick [--out DIR] [--workers N]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from report import check_minimums, main_with_one_line_errors, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.cli import main as neurorl
from neurorl.errors import NeurorlError
from neurorl.experiments.reproduce import get_reproduction


def run(paper: str, quick: bool, workers: int, out: Path) -> str:
    load = os.getloadavg()[0]
    command = ["reproduce", paper, "--out", str(out), "--quiet", "--workers", str(workers)]
    command += ["--quick"] if quick else []
    started = time.perf_counter()
    if neurorl(command) != 0:
        raise NeurorlError(f"neurorl {' '.join(command)} failed")
    wall = time.perf_counter() - started
    folder = out / "reproduce" / f"{paper}{'-quick' if quick else ''}"
    table = (folder / "reproduction.md").read_text()
    body = table.split("\n", 2)[2]  # without the page's title
    return "\n".join(
        [
            provenance(),
            "",
            f"`neurorl {' '.join(command[:2])}{' --quick' if quick else ''} --workers {workers}` "
            f"from an empty `--out` (every run trained): **{wall:.0f} s** wall "
            f"({wall / 60:.1f} min; load average {load:.2f} at the start).",
            "",
            "Its page, as written:",
            "",
            body.strip(),
        ]
    )


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper", help="e.g. hasegan2022, akl2023")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, help="an empty or new folder (default: temporary)")
    args = parser.parse_args()
    check_minimums(parser, args, workers=1)
    try:
        get_reproduction(args.paper)
    except NeurorlError as error:
        parser.error(str(error))
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty; the benchmark trains every run")
    with tempfile.TemporaryDirectory() as scratch:
        body = run(args.paper, args.quick, args.workers, args.out or Path(scratch))
    print(body)
    title = f"Reproduction, {args.paper}{', quick' if args.quick else ''}"
    print(write_section(title, body))


if __name__ == "__main__":
    main_with_one_line_errors(main)
