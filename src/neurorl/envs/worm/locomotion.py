"""A stochastic C. elegans crawling off food, as one array program over many worms.

Each worm is in one of four locomotor modes, switched as Poisson events per time step
``dt`` (s); positions are in cm, angles in radians, every array is ``[worms]``:

- FORWARD: the centroid moves at the run's speed along the body axis ``heading``; the
  heading turns at ``steering_gain * head_bias`` (weathervaning-like curving that follows the
  slow head bias) plus white heading noise of diffusion ``heading_diffusion``.
- REVERSAL: the worm backs along its axis for a gamma-distributed duration, then either
  starts an OMEGA turn (probability ``omega_probability``) or resumes forward after a shallow
  turn (``post_reversal_turn_sd``).
- OMEGA: the body axis rotates by ``omega_turn`` (either side) over ``omega_duration`` while
  the centroid creeps at ``turn_speed_fraction`` of the run speed.
- PAUSE: the worm stops (Roberts et al. 2016's pause peak) for ``pause_duration``.

Obstacles (discs the worm cannot enter, Li et al. 2024's confetti) stop the centroid at
their edge; the worm slides along it and, if it ran into it head first, reverses with
``touch_reversal_probability`` (anterior touch, Chalfie et al. 1985).

The reorientation (reversal onset) rate decays with time off food as
``rate(t) = 1.54 exp(-0.07 t) / min`` (t in minutes; López-Cruz et al. 2019). The head
swings about the body axis as ``head = A sin(2 pi f t) + bias`` with an Ornstein-Uhlenbeck
``bias`` (the part of the head angle a camera sees before the body turns that way).

Optogenetic lines act through :class:`Modulation`: per-worm multipliers on the reorientation
rate, forward speed, omega probability and pause rate in force at each step: a line's gains
while the light is on (``neurorl.envs.worm.lines``), or the read-out of a small circuit
(``neurorl.envs.worm.circuit``). Every rate, speed and duration below names its source; the
ones without a measured value are stated as assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import numpy as np


class Mode(IntEnum):
    FORWARD = 0
    REVERSAL = 1
    OMEGA = 2
    PAUSE = 3


@dataclass(frozen=True)
class WormParams:
    """Locomotion parameters (mm, s, degrees, per minute as named).

    - ``speed_median_mm_s`` 0.19, ``speed_spread`` 0.25 (log-normal sd), clipped to
      [``speed_min_mm_s``, ``speed_max_mm_s``] = [0.02, 0.35]: Roberts et al. 2016 eLife
      5:e12572 (off food the speed distribution peaks near 180 um/s); Ding et al. 2019 eLife
      8:e43318 (slow < 50 um/s, fast up to 350 um/s).
    - ``reorientation_rate_per_min`` 1.8 and ``reorientation_decay_per_min`` 0.08 (per
      minute of forward crawling; reversals, turns and pauses take the rest of the time):
      set so that the rate per minute of track fits López-Cruz et al. 2019 Neuron 102:407
      (1,631 worms after food removal, 1.54 exp(-0.07 t) per minute);
      ``minutes_off_food`` is the time since removal at t = 0.
    - ``reversal_duration_s`` 3.0 (gamma, shape 2), ``reversal_speed_mm_s`` 0.12: Gray, Hill
      & Bargmann 2005 PNAS 102:3184 (reversals of a few seconds, most followed by a turn).
    - ``omega_probability`` 0.5, ``omega_turn_deg`` 135 +- 30, ``omega_duration_s`` 3.0:
      Gray et al. 2005 (reversal-omega pairs; omega turns reorient by 90-180 degrees);
      Pierce-Shimomura et al. 1999 J Neurosci 19:9557 (pirouettes). The split is assumed.
    - ``post_reversal_turn_sd_deg`` 45: a reversal alone changes the heading by a shallow
      turn (Gray et al. 2005); the spread is assumed.
    - ``head_amplitude_deg`` 30 and ``head_frequency_hz`` 0.4: head swings of crawling on
      agar (Pierce-Shimomura et al. 2008 PNAS 105:20982, ~0.3-0.5 Hz); amplitude assumed.
    - ``head_bias_sd_deg`` 15, ``head_bias_tau_s`` 4, ``steering_gain_per_s`` 0.6 and
      ``heading_diffusion_rad2_s`` 0.06: curving that follows the head (weathervaning,
      Iino & Yoshida 2009 J Neurosci 29:5370), chosen so that the centroid velocity
      decorrelates within ~15 s (Ding et al. 2019; Roberts et al. 2016: heading nearly
      constant for ~10 s). ``neurorl worm validate`` prints the simulated figures.
    - ``pause_rate_per_min`` 0.5, ``pause_duration_s`` 2.0, ``pause_speed_mm_s`` 0.014:
      Roberts et al. 2016 (a pause peak near 14 um/s); rate and duration assumed.
    - ``turn_speed_fraction`` 0.3: the centroid creeps during an omega turn (assumed).
    - ``touch_reversal_probability`` 0.5: a forward worm whose head meets an obstacle
      reverses (Chalfie et al. 1985 J Neurosci 5:956, anterior touch evokes reversals; the
      probability per contact is assumed); otherwise it slides along the edge.
    - ``pirouette_gain_s`` 40 and ``pirouette_range`` 5: near food, the reorientation rate is
      multiplied by ``exp(-gain d(ln C)/dt)``, clipped to [1/range, range], with ``C`` the
      odour concentration along the path (pirouettes: Pierce-Shimomura, Morse & Lockery
      1999 J Neurosci 19:9557, turning rises several-fold when the concentration falls;
      gain and range assumed).
    """

    speed_median_mm_s: float = 0.19
    speed_spread: float = 0.25
    speed_min_mm_s: float = 0.02
    speed_max_mm_s: float = 0.35
    reorientation_rate_per_min: float = 1.8
    reorientation_decay_per_min: float = 0.08
    minutes_off_food: float = 0.0
    reversal_duration_s: float = 3.0
    reversal_speed_mm_s: float = 0.12
    omega_probability: float = 0.5
    omega_turn_deg: float = 135.0
    omega_turn_sd_deg: float = 30.0
    omega_duration_s: float = 3.0
    post_reversal_turn_sd_deg: float = 45.0
    head_amplitude_deg: float = 30.0
    head_frequency_hz: float = 0.4
    head_bias_sd_deg: float = 15.0
    head_bias_tau_s: float = 4.0
    steering_gain_per_s: float = 0.6
    heading_diffusion_rad2_s: float = 0.06
    pause_rate_per_min: float = 0.5
    pause_duration_s: float = 2.0
    pause_speed_mm_s: float = 0.014
    turn_speed_fraction: float = 0.3
    touch_reversal_probability: float = 0.5
    pirouette_gain_s: float = 40.0
    pirouette_range: float = 5.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name != "minutes_off_food" and not value > 0 and name != "heading_diffusion_rad2_s":
                raise ValueError(f"worm.{name} must be > 0, got {value}")
        if self.heading_diffusion_rad2_s < 0 or self.minutes_off_food < 0:
            raise ValueError("worm.heading_diffusion_rad2_s and worm.minutes_off_food must be >= 0")
        for name in ("omega_probability", "touch_reversal_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"worm.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.pirouette_range < 1:
            raise ValueError(f"worm.pirouette_range must be >= 1, got {self.pirouette_range}")
        if self.speed_min_mm_s > self.speed_max_mm_s:
            raise ValueError("worm.speed_min_mm_s must be <= worm.speed_max_mm_s")


class Modulation(NamedTuple):
    """Multipliers of the base rates and speed, one value per worm ``[N]`` (or a scalar)."""

    reorientation: np.ndarray | float = 1.0
    speed: np.ndarray | float = 1.0
    omega: np.ndarray | float = 1.0
    pause: np.ndarray | float = 1.0


class WormState(NamedTuple):
    """The state of ``N`` worms, each array ``[N]`` (cm, rad, s)."""

    x: np.ndarray
    y: np.ndarray
    heading: np.ndarray  # body axis, tail to head
    head_bias: np.ndarray  # slow part of the head angle relative to the body
    phase: np.ndarray  # head-swing phase
    mode: np.ndarray  # Mode, int8
    mode_left: np.ndarray  # seconds left in a timed mode (reversal, omega, pause)
    turn_rate: np.ndarray  # rad/s of the omega turn under way
    run_speed: np.ndarray  # cm/s of the current forward run
    clock: np.ndarray  # seconds since the episode's start


def head_angle(state: WormState, params: WormParams) -> np.ndarray:
    """Head direction relative to the body axis (rad): the swing plus the slow bias; an omega
    turn bends the head hard to the side it turns to."""
    swing = np.deg2rad(params.head_amplitude_deg) * np.sin(state.phase) + state.head_bias
    return np.where(state.mode == Mode.OMEGA, np.sign(state.turn_rate) * np.pi / 2, swing)


MM = 0.1  # cm per mm


def draw_run_speed(params: WormParams, rng: np.random.Generator, n: int) -> np.ndarray:
    """Forward-run speeds (cm/s), log-normal about the median, clipped to [min, max]."""
    speed = params.speed_median_mm_s * np.exp(params.speed_spread * rng.standard_normal(n))
    return MM * np.clip(speed, params.speed_min_mm_s, params.speed_max_mm_s)


def initial_state(
    x: np.ndarray, y: np.ndarray, params: WormParams, rng: np.random.Generator
) -> WormState:
    """Worms at ``(x, y)`` cm heading in random directions, running forward."""
    n = len(x)
    return WormState(
        x=np.asarray(x, dtype=np.float64).copy(),
        y=np.asarray(y, dtype=np.float64).copy(),
        heading=rng.uniform(-np.pi, np.pi, n),
        head_bias=np.deg2rad(params.head_bias_sd_deg) * rng.standard_normal(n),
        phase=rng.uniform(0.0, 2 * np.pi, n),
        mode=np.zeros(n, dtype=np.int8),
        mode_left=np.zeros(n),
        turn_rate=np.zeros(n),
        run_speed=draw_run_speed(params, rng, n),
        clock=np.zeros(n),
    )


def reorientation_rate(clock_s: np.ndarray, params: WormParams) -> np.ndarray:
    """Reversal onsets per second off food: ``1.54 exp(-0.07 t) / 60`` (t in minutes)."""
    minutes = params.minutes_off_food + clock_s / 60.0
    return (
        params.reorientation_rate_per_min
        * np.exp(-params.reorientation_decay_per_min * minutes)
        / 60.0
    )


def in_force(light: np.ndarray, gains: Modulation) -> Modulation:
    """The multipliers in force: ``gains`` where the light ``[N]`` is on, 1 where it is off."""
    return Modulation(*(np.where(light, gain, 1.0) for gain in gains))


def pirouette_gain(odour_trend: np.ndarray, params: WormParams) -> np.ndarray:
    """The reorientation multiplier ``exp(-gain d(ln C)/dt)`` for the odour trend ``[N]``
    (1/s) along each worm's recent path, clipped to ``[1/range, range]`` (pirouettes)."""
    bound = params.pirouette_range
    return np.clip(np.exp(-params.pirouette_gain_s * odour_trend), 1 / bound, bound)


def obstacle_contact(
    x: np.ndarray, y: np.ndarray, heading: np.ndarray, obstacles: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Worms pushed out of the obstacles (discs of ``radius`` cm at ``obstacles [N, K, 2]``
    cm) they entered: ``(x, y, heading, head_on)``. A worm inside a disc is moved to its
    edge and its heading turned to the edge's tangent nearest to it (sliding); ``head_on``
    marks those whose heading pointed into the disc."""
    dx, dy = x[:, None] - obstacles[..., 0], y[:, None] - obstacles[..., 1]
    distance = np.hypot(dx, dy)
    nearest = np.argmin(distance, axis=1)
    rows = np.arange(len(x))
    d, ox, oy = distance[rows, nearest], dx[rows, nearest], dy[rows, nearest]
    inside = d < radius
    normal = np.arctan2(oy, ox)  # outward, from the disc's centre to the worm
    into = np.cos(heading - normal) < 0
    tangent = normal + np.where(np.sin(heading - normal) > 0, np.pi / 2, -np.pi / 2)
    scale = np.where(inside, radius / np.maximum(d, 1e-12), 1.0)
    x = np.where(inside, obstacles[rows, nearest, 0] + ox * scale, x)
    y = np.where(inside, obstacles[rows, nearest, 1] + oy * scale, y)
    return x, y, np.where(inside, tangent, heading), inside & into


def step(
    state: WormState,
    modulation: Modulation,
    params: WormParams,
    dt: float,
    rng: np.random.Generator,
    plate_radius: float,
    obstacles: np.ndarray | None = None,
    obstacle_radius: float = 0.0,
) -> WormState:
    """Advance ``N`` worms by ``dt`` seconds under ``modulation`` (the multipliers in force
    now, e.g. :func:`in_force` of a line's gains and the light).

    Events are drawn with probability ``1 - exp(-rate dt)``; a worm that reaches the plate's
    edge (``plate_radius`` cm) is kept inside and its heading reflected off the wall; one
    that enters an obstacle (``obstacles [N, K, 2]`` cm, discs of ``obstacle_radius`` cm)
    slides along its edge and, running head first into it, may reverse
    (:func:`obstacle_contact`).
    """
    n = len(state.x)
    mode, mode_left = state.mode.copy(), state.mode_left - dt
    heading, turn_rate, run_speed = state.heading.copy(), state.turn_rate.copy(), state.run_speed
    forward, reversal = mode == Mode.FORWARD, mode == Mode.REVERSAL
    omega, pause = mode == Mode.OMEGA, mode == Mode.PAUSE
    uniform = rng.random((3, n))

    # the slow head bias (Ornstein-Uhlenbeck) and the head swing
    decay = np.exp(-dt / params.head_bias_tau_s)
    bias_sd = np.deg2rad(params.head_bias_sd_deg)
    head_bias = decay * state.head_bias + bias_sd * np.sqrt(1 - decay**2) * rng.standard_normal(n)
    phase = state.phase + 2 * np.pi * params.head_frequency_hz * dt

    # movement in the current mode
    speed_gain = modulation.speed
    velocity = np.select(
        [forward, reversal, omega],
        [
            run_speed * speed_gain,
            -MM * params.reversal_speed_mm_s * speed_gain,
            params.turn_speed_fraction * run_speed * speed_gain,
        ],
        MM * params.pause_speed_mm_s,
    )
    noise = np.sqrt(2 * params.heading_diffusion_rad2_s * dt) * rng.standard_normal(n)
    heading = heading + np.where(forward, params.steering_gain_per_s * head_bias * dt + noise, 0.0)
    heading = heading + np.where(omega, turn_rate * dt, 0.0)
    x = state.x + velocity * np.cos(heading) * dt
    y = state.y + velocity * np.sin(heading) * dt

    # forward -> reversal (a reorientation) or pause
    reorient = forward & (
        uniform[0]
        < 1 - np.exp(-reorientation_rate(state.clock, params) * modulation.reorientation * dt)
    )
    pause_rate = params.pause_rate_per_min / 60.0 * modulation.pause
    stop = forward & ~reorient & (uniform[1] < 1 - np.exp(-pause_rate * dt))
    mode[reorient] = Mode.REVERSAL
    mode_left[reorient] = rng.gamma(2.0, params.reversal_duration_s / 2.0, n)[reorient]
    mode[stop] = Mode.PAUSE
    mode_left[stop] = rng.exponential(params.pause_duration_s, n)[stop]

    # the end of a reversal: an omega turn or a shallow turn back to forward
    reversal_ends = reversal & (mode_left <= 0)
    omega_probability = np.clip(params.omega_probability * modulation.omega, 0, 1)
    to_omega = reversal_ends & (uniform[2] < omega_probability)
    to_forward = reversal_ends & ~to_omega
    turn = np.deg2rad(params.omega_turn_deg + params.omega_turn_sd_deg * rng.standard_normal(n))
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    mode[to_omega] = Mode.OMEGA
    mode_left[to_omega] = params.omega_duration_s
    turn_rate = np.where(to_omega, side * turn / params.omega_duration_s, turn_rate)
    shallow = np.deg2rad(params.post_reversal_turn_sd_deg) * rng.standard_normal(n)
    heading = heading + np.where(to_forward, shallow, 0.0)

    # the end of an omega turn or a pause: a new forward run
    resume = to_forward | ((omega | pause) & (mode_left <= 0))
    mode[resume] = Mode.FORWARD
    run_speed = np.where(resume, draw_run_speed(params, rng, n), run_speed)

    # the plate's wall: stay inside, heading reflected off the wall's normal
    radius = np.hypot(x, y)
    outside = radius > plate_radius
    if outside.any():
        normal = np.arctan2(y, x)
        heading = np.where(outside, 2 * normal + np.pi - heading, heading)
        scale = np.where(outside, plate_radius / np.maximum(radius, 1e-12), 1.0)
        x, y = x * scale, y * scale

    # obstacles: slide along the edge; a forward worm touched on the nose may reverse
    if obstacles is not None and obstacles.shape[1] > 0:
        x, y, heading, head_on = obstacle_contact(x, y, heading, obstacles, obstacle_radius)
        touched = (
            head_on & (mode == Mode.FORWARD) & (rng.random(n) < params.touch_reversal_probability)
        )
        mode[touched] = Mode.REVERSAL
        mode_left[touched] = rng.gamma(2.0, params.reversal_duration_s / 2.0, n)[touched]

    return WormState(
        x=x,
        y=y,
        heading=np.angle(np.exp(1j * heading)),
        head_bias=head_bias,
        phase=np.mod(phase, 2 * np.pi),
        mode=mode,
        mode_left=mode_left,
        turn_rate=turn_rate,
        run_speed=run_speed,
        clock=state.clock + dt,
    )


def scatter(state: WormState, mask: np.ndarray, part: WormState) -> WormState:
    """``state`` with the worms selected by ``mask [N]`` replaced by ``part`` (``mask.sum()``
    worms)."""
    out = WormState(*(field.copy() for field in state))
    for whole, new in zip(out, part, strict=True):
        whole[mask] = new
    return out
