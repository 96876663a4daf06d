"""The wall time of `neurorl reproduce PAPER [--quick] [--seeds K]`.

From nothing (the default): runs the command in a fresh ``--out`` (a temporary folder unless
``--out`` names an empty or new one), every run trained, and times it from the call to its
last file. With ``--reuse DIR``: runs it over the runs already in DIR (trained beforehand,
e.g. several at once by `neurorl train`; reused by config, the missing ones trained), and
reports the command's own time beside the training time its runs recorded, summed. Writes
the figures, the load at the start and the reproduction's own table to BENCHMARKS.md
(section "Reproduction, PAPER[, K seeds][, quick]"). Bad flags or an unknown paper: one
line, exit code 2, nothing run or written.

    python benchmarks/reproduce.py hasegan2022 --quick [--out DIR] [--workers N]
    python benchmarks/reproduce.py hasegan2022 --seeds 3 --reuse DIR
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from report import check_minimums, main_with_one_line_errors, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.cli import main as neurorl
from neurorl.errors import NeurorlError
from neurorl.experiments.reproduce import get_reproduction


def run(paper: str, quick: bool, seeds: int | None, workers: int, out: Path, reuse: bool) -> str:
    load = os.getloadavg()[0]
    flags = ["--workers", str(workers), *(["--quick"] if quick else [])]
    flags += ["--seeds", str(seeds)] if seeds else []
    command = ["reproduce", paper, "--out", str(out), "--quiet", *flags]
    shown = f"neurorl reproduce {paper} {' '.join(flags)}"
    started = time.perf_counter()
    if neurorl(command) != 0:
        raise NeurorlError(f"neurorl {' '.join(command)} failed")
    wall = time.perf_counter() - started
    folder = out / "reproduce" / f"{paper}{'-quick' if quick else ''}"
    table = (folder / "reproduction.md").read_text()
    body = table.split("\n", 2)[2]  # without the page's title
    if reuse:
        training = json.loads((folder / "reproduction.json").read_text())["training_wall_seconds"]
        headline = (
            f"`{shown}` over the runs in `{out}` (trained beforehand, "
            f"reused by config): the command **{wall:.0f} s**; its runs' training "
            f"**{training:.0f} s** ({training / 3600:.1f} core-hours), summed as each run "
            f"recorded it (load average {load:.2f} when the command started)."
        )
    else:
        headline = (
            f"`{shown}` from an empty `--out` (every run trained): "
            f"**{wall:.0f} s** wall ({wall / 60:.1f} min; load average {load:.2f} at the start)."
        )
    return "\n".join(
        [
            provenance(),
            "",
            headline,
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
    parser.add_argument("--seeds", type=int, help="seeds per row (default: the paper's)")
    parser.add_argument("--out", type=Path, help="an empty or new folder (default: temporary)")
    parser.add_argument("--reuse", type=Path, help="a folder of runs trained beforehand")
    args = parser.parse_args()
    check_minimums(parser, args, workers=1, seeds=1)
    if args.reuse is not None and args.out is not None:
        parser.error("--out and --reuse are two places for the runs; give one")
    if args.reuse is not None and not args.reuse.is_dir():
        parser.error(f"--reuse {args.reuse}: no such folder")
    try:
        get_reproduction(args.paper)
    except NeurorlError as error:
        parser.error(str(error))
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty; the benchmark trains every run")
    with tempfile.TemporaryDirectory() as scratch:
        out = args.reuse or args.out or Path(scratch)
        body = run(args.paper, args.quick, args.seeds, args.workers, out, args.reuse is not None)
    print(body)
    seeds = f", {args.seeds} seeds" if args.seeds else ""
    title = f"Reproduction, {args.paper}{seeds}{', quick' if args.quick else ''}"
    print(write_section(title, body))


if __name__ == "__main__":
    main_with_one_line_errors(main)
