"""The plate task of Li, Kreiman & Ramanathan 2024 for many worms at once, as arrays.

One worm per plate (radius 2 cm); a target point 0.6-1.9 cm from the centre; the agent
switches the light off (0) or on (1) at each of 3 decisions per second; an episode lasts
600 s or ends when the centroid comes within 0.5 cm of the target. The observation is the
last 15 frames x 6 features: sin/cos of the body angle and of the head angle (absolute,
quantised to 30-degree bins) and x, y relative to the target divided by 1.9 cm (90
numbers, oldest frame first). The reward of a decision is ``2 (d_t - d_{t+1})`` with
distances in units of 1.9 cm, plus 4 when the worm ends within ``bonus_radius_cm`` (the
paper's 30 pixels, ~0.6 mm) of the target.

Two variants test an agent where it was not trained (the paper's generalisation): ``obstacles``
discs of ``obstacle_radius_cm`` (the paper's 12 pieces of confetti) scattered on each plate,
which the worm cannot enter; and ``food``, a food patch at the target whose odour
(a Gaussian of ``odour_sd_cm``) the worm climbs by pirouettes (its reorientation rate rises
while the concentration along its path falls). Neither is in the observation.

:class:`WormPlateBatch` steps ``N`` plates as one numpy program; the Gymnasium envs of
:mod:`neurorl.envs.worm.env` wrap it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from neurorl.envs.worm import locomotion
from neurorl.envs.worm.circuit import CircuitResponse
from neurorl.envs.worm.lines import check_line, resolve_line
from neurorl.envs.worm.locomotion import Modulation, WormParams

FEATURES = 6  # sin/cos body angle, sin/cos head angle, x and y relative to the target


@dataclass(frozen=True)
class PlateConfig:
    """The task (cm, s, Hz, degrees) and the worm. ``line``: a built-in line of
    :data:`neurorl.envs.worm.lines.LINES` or ``custom`` (``neurons`` and ``opsin``);
    ``response``: the line's effect as fixed gains (``gains``) or through the circuit."""

    line: str = "aiy"
    neurons: tuple[str, ...] = ()
    opsin: str = "none"
    response: Literal["gains", "circuit"] = "gains"
    plate_radius_cm: float = 2.0
    target_min_cm: float = 0.6
    target_max_cm: float = 1.9
    start_radius_cm: float = 0.5
    decision_rate_hz: float = 3.0
    episode_seconds: float = 600.0
    history: int = 15
    position_scale_cm: float = 1.9
    success_radius_cm: float = 0.5
    bonus_radius_cm: float = 0.063
    bonus: float = 4.0
    angle_bin_deg: float = 30.0
    terminate_on_success: bool = True
    obstacles: int = 0
    obstacle_radius_cm: float = 0.25
    food: bool = False
    odour_sd_cm: float = 1.0
    worm: WormParams = field(default_factory=WormParams)

    def __post_init__(self) -> None:
        if self.decision_rate_hz <= 0:
            raise ValueError(f"env.decision_rate_hz must be > 0, got {self.decision_rate_hz}")
        if self.history < 1:
            raise ValueError(f"env.history must be >= 1 frame, got {self.history}")
        if not 0 <= self.target_min_cm <= self.target_max_cm:
            raise ValueError(
                "env.target_min_cm must be in [0, env.target_max_cm], got "
                f"{self.target_min_cm} and {self.target_max_cm}"
            )
        if self.target_max_cm >= self.plate_radius_cm:
            raise ValueError(
                f"env.target_max_cm must be < env.plate_radius_cm ({self.plate_radius_cm}): a "
                f"target {self.target_max_cm} cm from the centre is outside the plate"
            )
        positive = (
            "plate_radius_cm",
            "episode_seconds",
            "position_scale_cm",
            "angle_bin_deg",
            "obstacle_radius_cm",
            "odour_sd_cm",
        )
        for name in (*positive, "success_radius_cm"):
            if getattr(self, name) <= 0:
                raise ValueError(f"env.{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.start_radius_cm < self.plate_radius_cm:
            raise ValueError(
                f"env.start_radius_cm must be in [0, plate radius), got {self.start_radius_cm}"
            )
        if self.obstacles < 0:
            raise ValueError(f"env.obstacles must be >= 0, got {self.obstacles}")
        # discs kept a worm length apart fill at most 40% of the disc their centres lie in
        spaced = self.obstacles * (self.obstacle_radius_cm + 0.05) ** 2
        if spaced > 0.4 * (self.plate_radius_cm - self.obstacle_radius_cm) ** 2:
            raise ValueError(
                f"env.obstacles: {self.obstacles} discs of radius {self.obstacle_radius_cm} cm "
                "do not fit on the plate apart"
            )
        check_line(self.neurons, self.opsin)
        if self.line != "custom" and (self.neurons or self.opsin != "none"):
            raise ValueError(
                "env.neurons and env.opsin define a line of your own: set env.line=custom"
            )
        resolve_line(self.line, self.neurons, self.opsin)

    @property
    def dt(self) -> float:
        """Seconds per decision."""
        return 1.0 / self.decision_rate_hz

    @property
    def episode_steps(self) -> int:
        return round(self.episode_seconds * self.decision_rate_hz)

    @property
    def obs_dim(self) -> int:
        return self.history * FEATURES

    def observation_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` of one observation: angles' sin/cos in [-1, 1], positions within a
        plate's diameter of the target."""
        reach = 2 * self.plate_radius_cm / self.position_scale_cm
        high = np.tile(np.array([1, 1, 1, 1, reach, reach], dtype=np.float32), self.history)
        return -high, high


class LightResponse(Protocol):
    """How the light acts on the worms: the multipliers in force for ``light [N]``."""

    def reset(self, mask: np.ndarray, rng: np.random.Generator) -> None: ...

    def __call__(self, light: np.ndarray, dt: float) -> Modulation: ...


class FixedGains:
    """A line's gains while the light is on, none while it is off (opsins act within one
    decision; their kinetics are ignored)."""

    def __init__(self, gains: Modulation) -> None:
        self.gains = gains

    def reset(self, mask: np.ndarray, rng: np.random.Generator) -> None:
        return None

    def __call__(self, light: np.ndarray, dt: float) -> Modulation:
        return locomotion.in_force(light, self.gains)


def light_response(config: PlateConfig, num_worms: int) -> LightResponse:
    """The configured line's response: fixed gains, or the circuit of named neurons."""
    line = resolve_line(config.line, config.neurons, config.opsin)
    if config.response == "circuit":
        return CircuitResponse(line, num_worms)
    return FixedGains(line.modulation())


def quantise(angle: np.ndarray, bin_deg: float) -> np.ndarray:
    """Angles (rad) rounded to the centre of their ``bin_deg`` bin, as the paper's tracker."""
    width = np.deg2rad(bin_deg)
    return np.round(angle / width) * width


class WormPlateBatch:
    """``num_worms`` plates stepped as one array program (numpy, float64 inside).

    ``reset(rng)`` draws fresh worms and targets for every plate (or those in ``mask``);
    ``step(light)`` advances every plate one decision and returns ``(obs [N, 90], reward
    [N], reached [N], timed_out [N])``. A plate whose episode ended keeps being stepped until
    the caller resets it; ``reached`` and ``timed_out`` say so at every step after.
    """

    def __init__(self, config: PlateConfig, num_worms: int) -> None:
        self.config, self.num_worms = config, num_worms
        self.response = light_response(config, num_worms)
        self.target = np.zeros((num_worms, 2))
        origin = np.zeros(num_worms)  # placeholders until reset() draws the worms
        self.worms = locomotion.initial_state(origin, origin, config.worm, np.random.default_rng(0))
        self.frames = np.zeros((num_worms, config.history, FEATURES), dtype=np.float32)
        self.steps = np.zeros(num_worms, dtype=np.int64)
        self.light = np.zeros(num_worms, dtype=bool)
        self.obstacles = np.zeros((num_worms, config.obstacles, 2))
        self.odour_trend = np.zeros(num_worms)  # d(ln C)/dt over the last decision (1/s)

    # --- drawing plates -------------------------------------------------------------------

    def draw_targets(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``[n, 2]`` targets, uniform in distance from the centre and in direction."""
        c = self.config
        radius = rng.uniform(c.target_min_cm, c.target_max_cm, n)
        angle = rng.uniform(-np.pi, np.pi, n)
        return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)

    def draw_starts(self, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``[n, 2]`` start points uniform in the central disc, outside the success radius."""
        c = self.config
        start = np.zeros_like(target)
        pending = np.ones(len(target), dtype=bool)
        while pending.any():
            k = int(pending.sum())
            radius = c.start_radius_cm * np.sqrt(rng.random(k))
            angle = rng.uniform(-np.pi, np.pi, k)
            start[pending] = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
            pending &= np.hypot(*(start - target).T) <= c.success_radius_cm
        return start

    def draw_obstacles(
        self, start: np.ndarray, target: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """``[n, K, 2]`` obstacle centres, uniform on the plate (each disc wholly inside), one
        worm length (0.1 cm) clear of the start point, of the target and of each other."""
        c = self.config
        n, r, clear = len(start), c.obstacle_radius_cm, 0.1
        centres = np.full((n, c.obstacles, 2), np.inf)
        for k in range(c.obstacles):
            pending = np.ones(n, dtype=bool)
            for _ in range(1000):
                m = int(pending.sum())
                radius = (c.plate_radius_cm - r) * np.sqrt(rng.random(m))
                angle = rng.uniform(-np.pi, np.pi, m)
                centres[pending, k] = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
                centre = centres[:, k]
                others = np.hypot(*np.moveaxis(centres[:, :k] - centre[:, None], -1, 0))
                pending &= (
                    (np.hypot(*(centre - start).T) <= r + clear)
                    | (np.hypot(*(centre - target).T) <= r + clear)
                    | (others <= 2 * r + clear).any(axis=1)
                )
                if not pending.any():
                    break
            else:
                raise ValueError(
                    f"{c.obstacles} obstacles of radius {r} cm do not fit on the plate apart"
                )
        return centres

    def reset(
        self,
        rng: np.random.Generator,
        mask: np.ndarray | None = None,
        target: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fresh worms (and targets, unless ``target [N, 2]`` is given) where ``mask``; the
        observations ``[N, obs_dim]`` of every plate."""
        c = self.config
        mask = np.ones(self.num_worms, dtype=bool) if mask is None else np.asarray(mask, bool)
        n = int(mask.sum())
        new_target = (
            self.draw_targets(n, rng) if target is None else np.asarray(target, float)[mask]
        )
        start = self.draw_starts(new_target, rng)
        fresh = locomotion.initial_state(start[:, 0], start[:, 1], c.worm, rng)
        self.worms = locomotion.scatter(self.worms, mask, fresh)
        if c.obstacles:
            self.obstacles[mask] = self.draw_obstacles(start, new_target, rng)
        self.odour_trend[mask] = 0.0
        self.target[mask] = new_target
        self.steps[mask] = 0
        self.light[mask] = False
        self.response.reset(mask, rng)
        self.frames[mask] = self.features()[mask, None, :]
        return self.observation()

    # --- stepping ----------------------------------------------------------------------------

    def distance(self) -> np.ndarray:
        """Centroid-to-target distance (cm) ``[N]``."""
        return np.hypot(self.worms.x - self.target[:, 0], self.worms.y - self.target[:, 1])

    def features(self) -> np.ndarray:
        """The current frame ``[N, 6]`` of every plate (the paper's tracker's features)."""
        c, w = self.config, self.worms
        body = quantise(w.heading, c.angle_bin_deg)
        head = quantise(w.heading + locomotion.head_angle(w, c.worm), c.angle_bin_deg)
        return np.stack(
            [
                np.sin(body),
                np.cos(body),
                np.sin(head),
                np.cos(head),
                (w.x - self.target[:, 0]) / c.position_scale_cm,
                (w.y - self.target[:, 1]) / c.position_scale_cm,
            ],
            axis=1,
        ).astype(np.float32)

    def observation(self) -> np.ndarray:
        return self.frames.reshape(self.num_worms, -1).copy()

    def step(
        self, light: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One decision for every plate: ``(obs, reward, reached, timed_out)``."""
        c = self.config
        self.light = np.asarray(light).astype(bool).reshape(self.num_worms)
        before = self.distance()
        modulation = self.response(self.light, c.dt)
        if c.food:
            pirouettes = locomotion.pirouette_gain(self.odour_trend, c.worm)
            modulation = modulation._replace(reorientation=modulation.reorientation * pirouettes)
        self.worms = locomotion.step(
            self.worms,
            modulation,
            c.worm,
            c.dt,
            rng,
            c.plate_radius_cm,
            self.obstacles,
            c.obstacle_radius_cm,
        )
        self.steps += 1
        after = self.distance()
        # ln C = -d^2 / (2 sd^2) for the food's odour, sensed along the path
        self.odour_trend = (before**2 - after**2) / (2 * c.odour_sd_cm**2 * c.dt)
        reward = 2.0 * (before - after) / c.position_scale_cm + c.bonus * (
            after < c.bonus_radius_cm
        )
        self.frames = np.roll(self.frames, -1, axis=1)
        self.frames[:, -1] = self.features()
        return (
            self.observation(),
            reward.astype(np.float32),
            after < c.success_radius_cm,
            self.steps >= c.episode_steps,
        )


Policy = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Episodes:
    """Per-episode outcomes ``[E]``: time to the target (s; inf where not reached), return,
    and the fraction of decisions with the light on."""

    time_to_target: np.ndarray
    returns: np.ndarray
    light_on: np.ndarray

    @property
    def success(self) -> float:
        return float(np.isfinite(self.time_to_target).mean())

    def median_time(self, censor_s: float) -> float:
        """Median time to target with failures counted as ``censor_s`` (the episode length)."""
        return float(np.median(np.minimum(self.time_to_target, censor_s)))


def run_episodes(config: PlateConfig, policy: Policy, episodes: int, seed: int) -> Episodes:
    """``episodes`` plates (fresh worms and targets from ``seed``) played by ``policy`` (obs
    ``[N, obs_dim]`` -> light ``[N]``) to the target or the time limit, all as one batch."""
    rng = np.random.default_rng(seed)
    batch = WormPlateBatch(config, episodes)
    obs = batch.reset(rng)
    time_to_target = np.full(episodes, np.inf)
    returns, lit = np.zeros(episodes), np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    for step in range(config.episode_steps):
        light = np.asarray(policy(obs, rng), dtype=bool)
        obs, reward, reached, _ = batch.step(light, rng)
        returns += np.where(running, reward, 0.0)
        lit += running & light
        first = reached & np.isinf(time_to_target)
        time_to_target[first] = (step + 1) * config.dt
        if config.terminate_on_success:
            running &= ~reached
        if not running.any():
            break
    decisions = np.where(
        np.isfinite(time_to_target), time_to_target * config.decision_rate_hz, config.episode_steps
    )
    return Episodes(time_to_target, returns, lit / decisions)
