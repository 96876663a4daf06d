"""Synapse counts between the neuron classes of the circuit mode, from Cook et al. 2019.

Cook, S. J., Jarrell, T. A., Brittin, C. A., et al. (2019). Whole-animal connectomes of both
Caenorhabditis elegans sexes. Nature 571, 63-71. doi:10.1038/s41586-019-1352-7.

``data/cook2019_circuit.csv`` holds, for every ordered pair of the classes in
:data:`CIRCUIT_CLASSES`, the hermaphrodite's chemical synapse count (pre -> post) and gap
junction count, summed over the classes' member cells (e.g. AVA = AVAL + AVAR; VA = VA1 ...
VA12); connections within a class are left out. It was extracted by this module's ``main``
from the cache of the ``cect`` package (OpenWorm ConnectomeToolbox 0.3.5,
``cect/cache/Cook2019HermReader.json``: ``Generic_CS`` and ``Generic_GJ`` matrices)::

    pip download cect==0.3.5 --no-deps -d /tmp/cect && unzip /tmp/cect/cect-*.whl \\
        'cect/cache/Cook2019HermReader.json' -d /tmp/cect
    python -m neurorl.envs.worm.connectome /tmp/cect/cect/cache/Cook2019HermReader.json

To use other neurons, install ``cect`` (an optional extra: it pulls ~80 packages), add
the classes to :data:`CIRCUIT_CLASSES` and run the command again.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).with_name("data") / "cook2019_circuit.csv"
CITATION = "Cook et al. 2019 Nature 571:63 (hermaphrodite), via cect 0.3.5"

# sensory and interneurons of the lines and of navigation, the command interneurons, the
# head motor neurons, and the ventral-cord cholinergic motor neurons of line 5
CIRCUIT_CLASSES: tuple[str, ...] = (
    "AWC", "ASI", "BAG", "IL1", "PQR",
    "AIY", "AIZ", "AIB", "RIA", "RIB", "RIM", "RIC", "AVK", "SIA", "SIB",
    "AVA", "AVD", "AVE", "AVB", "PVC",
    "SMD", "RMD", "VA", "VB", "DA", "DB", "AS",
)  # fmt: skip

MEMBER_SUFFIX = re.compile(r"^(?:L|R|DL|DR|VL|VR|D|V|\d+)?$")


def members(cell_class: str, cells: list[str]) -> list[str]:
    """The cells of a class: its name plus a side/quadrant suffix or a number."""
    return [
        c for c in cells if c.startswith(cell_class) and MEMBER_SUFFIX.match(c[len(cell_class) :])
    ]


def extract(cache_json: Path) -> list[tuple[str, str, int, int]]:
    """``(pre, post, chemical, gap)`` class counts from cect's cached Cook 2019 matrices."""
    data = json.loads(Path(cache_json).read_text())
    cells: list[str] = data["nodes"]
    chemical = np.asarray(data["connections"]["Generic_CS"])
    gap = np.asarray(data["connections"]["Generic_GJ"])
    index = {c: [cells.index(m) for m in members(c, cells)] for c in CIRCUIT_CLASSES}
    for cell_class, rows in index.items():
        if not rows:
            raise ValueError(f"no cells of class {cell_class} in {cache_json}")
    out = []
    for pre in CIRCUIT_CLASSES:
        for post in CIRCUIT_CLASSES:
            if pre == post:
                continue
            block = np.ix_(index[pre], index[post])
            chem, junctions = int(chemical[block].sum()), int(gap[block].sum())
            if chem or junctions:
                out.append((pre, post, chem, junctions))
    return out


def load_counts() -> tuple[np.ndarray, np.ndarray]:
    """``(chemical [C, C] pre x post, gap [C, C])`` counts in :data:`CIRCUIT_CLASSES` order."""
    size = len(CIRCUIT_CLASSES)
    position = {c: i for i, c in enumerate(CIRCUIT_CLASSES)}
    chemical, gap = np.zeros((size, size)), np.zeros((size, size))
    with DATA.open() as file:
        for row in csv.DictReader(line for line in file if not line.startswith("#")):
            i, j = position[row["pre"]], position[row["post"]]
            chemical[i, j], gap[i, j] = float(row["chemical"]), float(row["gap"])
    return chemical, gap


def main(argv: list[str] | None = None) -> None:
    """Write ``data/cook2019_circuit.csv`` from cect's ``Cook2019HermReader.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m neurorl.envs.worm.connectome Cook2019HermReader.json")
    rows = extract(Path(args[0]))
    DATA.parent.mkdir(exist_ok=True)
    with DATA.open("w", newline="") as file:
        file.write(f"# {CITATION}; class counts summed over member cells\n")
        writer = csv.writer(file)
        writer.writerow(["pre", "post", "chemical", "gap"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} class pairs to {DATA}")


if __name__ == "__main__":
    main()
