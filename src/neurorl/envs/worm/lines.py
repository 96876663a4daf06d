"""Optogenetic lines: which neurons carry an opsin, and what light does to the worm.

Li, Kreiman & Ramanathan 2024 (Nat Mach Intell) drove six transgenic lines and wild type.
Their behavioural effect sizes are not published in a usable form, so each neuron's effect
here is an assumption taken from the literature named beside it: a :class:`Modulation` of
the locomotion model (multipliers on the reorientation rate, forward speed, omega
probability and pause rate) while that neuron is excited, and another while it is
inhibited. A line's effect is the product over its neurons. A neuron with no measured
effect on these rates is listed with no effect (its entry says so), so that a line that
names it is still a known line. A user defines a line of their own in config
(``env.line=custom``, ``env.neurons=[AVA,AIB]``, ``env.opsin=inhibitory``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from neurorl.envs.worm.locomotion import Modulation

Opsin = Literal["excitatory", "inhibitory", "none"]
NONE = Modulation()


@dataclass(frozen=True)
class NeuronEffect:
    """The assumed effect of exciting / inhibiting one neuron class, and its source."""

    excited: Modulation
    inhibited: Modulation
    source: str


NEURON_EFFECTS: dict[str, NeuronEffect] = {
    "AIY": NeuronEffect(
        Modulation(reorientation=0.4, speed=1.3),
        Modulation(reorientation=2.0, speed=0.8),
        "Li et al. 2014 Cell 159:751 (AIY activation raises speed and suppresses reversals); "
        "Gray et al. 2005 PNAS 102:3184 (AIY ablation raises the turning rate)",
    ),
    "AWC": NeuronEffect(
        Modulation(reorientation=2.5),
        Modulation(reorientation=0.6),
        "Gordus et al. 2015 Cell 161:215 (AWC activation raises reversal probability); "
        "Chalasani et al. 2007 Nature 450:63 (AWC activity on odour removal drives turns)",
    ),
    "ASI": NeuronEffect(
        Modulation(reorientation=0.9),
        Modulation(reorientation=1.1),
        "Gray et al. 2005 (ASI ablation raises turning; the line's ASI expression is weak, "
        "so the effect is taken small)",
    ),
    "AVA": NeuronEffect(
        Modulation(reorientation=4.0),
        Modulation(reorientation=0.2),
        "Gordus et al. 2015 (AVA activity drives reversals); Pokala et al. 2014 PNAS "
        "111:2770 (silencing AVA suppresses reversals)",
    ),
    "AIB": NeuronEffect(
        Modulation(reorientation=2.0),
        Modulation(reorientation=0.6),
        "Gray et al. 2005 (AIB promotes reversals and turns); Chalasani et al. 2007",
    ),
    "RIM": NeuronEffect(
        Modulation(reorientation=1.5, omega=1.5),
        Modulation(reorientation=0.8, omega=0.7),
        "Alkema et al. 2005 Neuron 46:247 (tyramine from RIM couples reversals to omega "
        "turns); Gordus et al. 2015",
    ),
    "AVB": NeuronEffect(
        Modulation(reorientation=0.5, speed=1.2),
        Modulation(reorientation=1.5, speed=0.6),
        "Chalfie et al. 1985 J Neurosci 5:956 (AVB drives forward locomotion); Kawano et "
        "al. 2011 Neuron 72:572 (AVB/AVA balance sets forward vs reverse)",
    ),
    "SMD": NeuronEffect(
        Modulation(omega=1.3),
        Modulation(omega=0.7),
        "Gray et al. 2005 (SMD sets the amplitude of omega-turn head bends)",
    ),
    "RIA": NeuronEffect(
        NONE,
        NONE,
        "Hendricks et al. 2012 Nature 487:99 (RIA encodes head bending; no measured effect "
        "on these rates: none assumed)",
    ),
    "AIZ": NeuronEffect(
        Modulation(reorientation=1.5),
        Modulation(reorientation=0.8),
        "Gray et al. 2005 (AIZ promotes turning); Li et al. 2014",
    ),
    "SIA": NeuronEffect(NONE, NONE, "no measured effect on these rates: none assumed"),
    "SIB": NeuronEffect(NONE, NONE, "no measured effect on these rates: none assumed"),
    "RIC": NeuronEffect(NONE, NONE, "no measured effect on these rates: none assumed"),
    "RMD": NeuronEffect(NONE, NONE, "head motor neurons; no measured effect on these rates"),
    "AVK": NeuronEffect(NONE, NONE, "no measured effect on these rates: none assumed"),
    "BAG": NeuronEffect(
        Modulation(reorientation=1.5),
        NONE,
        "Hallem et al. 2011 PNAS 108:254 (BAG mediates CO2 avoidance; activation assumed to "
        "raise reorientations); inhibition off air-level CO2: none assumed",
    ),
    "IL1": NeuronEffect(
        Modulation(reorientation=1.5),
        NONE,
        "WormAtlas IL1 (head withdrawal to nose touch; activation assumed to raise "
        "reorientations); inhibition: none assumed",
    ),
    "PQR": NeuronEffect(
        Modulation(speed=1.2),
        Modulation(speed=0.9),
        "Zimmer et al. 2009 Neuron 61:865 and Busch et al. 2012 Nat Neurosci 15:581 (O2 "
        "sensing by PQR/URX/AQR raises speed)",
    ),
    **{
        motor: NeuronEffect(
            Modulation(speed=0.75, reorientation=0.9),
            Modulation(speed=0.8),
            "Liewald et al. 2008 Nat Methods 5:895 (light on cholinergic motor neurons "
            "contracts the body and stalls crawling; split evenly over VA, VB, DA, DB, AS)",
        )
        for motor in ("VA", "VB", "DA", "DB", "AS")
    },
    "ALL": NeuronEffect(
        Modulation(speed=0.2, reorientation=0.3, pause=10.0),
        Modulation(speed=0.1, reorientation=0.1, pause=20.0),
        "Pokala et al. 2014 (pan-neuronal HisCl1 silencing paralyses); pan-neuronal "
        "excitation assumed to stall crawling (Liewald et al. 2008)",
    ),
}


@dataclass(frozen=True)
class Line:
    """A transgenic line: the neurons with an opsin, and whether light excites or inhibits."""

    name: str
    neurons: tuple[str, ...]
    opsin: Opsin
    note: str = ""

    def modulation(self) -> Modulation:
        """The product of the neurons' effects (no opsin or no neurons: no effect)."""
        check_line(self.neurons, self.opsin)
        gains = {key: 1.0 for key in Modulation._fields}
        if self.opsin == "none":
            return Modulation(**gains)
        for neuron in self.neurons:
            effect = NEURON_EFFECTS[neuron]
            chosen = effect.excited if self.opsin == "excitatory" else effect.inhibited
            for key in gains:
                gains[key] *= getattr(chosen, key)
        return Modulation(**gains)


def check_line(neurons: tuple[str, ...], opsin: str) -> None:
    """ValueError for an unknown neuron or opsin (the CLI's one-line exit 2)."""
    if opsin not in ("excitatory", "inhibitory", "none"):
        raise ValueError(f"env.opsin must be 'excitatory', 'inhibitory' or 'none', got {opsin!r}")
    for neuron in neurons:
        if neuron not in NEURON_EFFECTS:
            known = ", ".join(NEURON_EFFECTS)
            raise ValueError(f"env.neurons names an unknown neuron {neuron!r}; known: {known}")


LINES: dict[str, Line] = {
    line.name: line
    for line in (
        Line("wt", (), "none", "wild type: no opsin; light has no effect (LITE-1 ignored)"),
        Line("aiy", ("AIY",), "excitatory", "line 1"),
        Line("awc", ("AWC", "ASI"), "excitatory", "line 2: AWC(ON) with weak ASI"),
        Line(
            "multi-inh",
            ("SIA", "SIB", "RIC", "AVA", "RMD", "AIY", "AVK", "BAG"),
            "inhibitory",
            "line 3",
        ),
        Line("pan-inh", ("ALL",), "inhibitory", "line 4: all neurons"),
        Line("vnc", ("VA", "VB", "DA", "DB", "AS"), "excitatory", "line 5: cholinergic VNC"),
        Line("il1-pqr", ("IL1", "PQR"), "excitatory", "line 6"),
    )
}


def resolve_line(name: str, neurons: tuple[str, ...] = (), opsin: str = "none") -> Line:
    """A built-in line by name, or ``custom`` from ``neurons`` and ``opsin``."""
    if name == "custom":
        check_line(neurons, opsin)
        return Line("custom", tuple(neurons), opsin)  # type: ignore[arg-type]
    if name not in LINES:
        raise ValueError(f"env.line must be one of {', '.join(LINES)} or 'custom', got {name!r}")
    return LINES[name]
