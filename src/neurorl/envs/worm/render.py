"""RGB frames of one plate, drawn with numpy (no display, no extra dependency)."""

from __future__ import annotations

import numpy as np

from neurorl.envs.worm import locomotion
from neurorl.envs.worm.plate import WormPlateBatch

BODY_LENGTH_CM = 0.1  # an adult hermaphrodite is ~1 mm long
BODY_DRAWN = 3.0  # the body is drawn 3x life size so that it shows on a 4 cm plate
AGAR, OUTSIDE = (226, 214, 180), (40, 40, 40)
LIGHT_ON, LIGHT_OFF = (220, 40, 40), (90, 90, 90)
TARGET, PATH, BODY, HEAD = (30, 120, 220), (150, 130, 90), (60, 40, 20), (200, 80, 0)
OBSTACLE, FOOD = (120, 110, 160), (150, 190, 110)


def _disc(frame: np.ndarray, grid: tuple[np.ndarray, np.ndarray], x, y, r, colour, ring=0.0):
    """Paint a filled disc (or a ring of width ``ring``) of radius ``r`` cm at (x, y) cm,
    touching only the pixels of its bounding box."""
    gx, gy = grid
    reach = r + ring
    cols = np.flatnonzero(np.abs(gx - x) <= reach)
    rows = np.flatnonzero(np.abs(gy - y) <= reach)
    if not len(cols) or not len(rows):
        return
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    distance = np.hypot(gx[window[1]][None, :] - x, gy[window[0]][:, None] - y)
    inside = distance <= r if ring == 0 else np.abs(distance - r) <= ring
    frame[window][inside] = colour


def _dots(frame: np.ndarray, grid: tuple[np.ndarray, np.ndarray], points: np.ndarray, colour):
    """Paint the pixel under each of ``points [T, 2]`` cm."""
    gx, gy = grid
    cols = np.clip(np.searchsorted(gx, points[:, 0]), 0, len(gx) - 1)
    rows = np.clip(np.searchsorted(-gy, -points[:, 1]), 0, len(gy) - 1)
    frame[rows, cols] = colour


def render_frame(
    batch: WormPlateBatch, index: int, path: np.ndarray, size: int = 400
) -> np.ndarray:
    """``[size, size, 3]`` uint8: the plate (agar), the food patch and the obstacles if the
    plate has them, the path so far (``path [T, 2]`` cm), the target and its success circle,
    the worm's body and head, and a light indicator (red square in the corner while the
    light is on)."""
    c = batch.config
    half = 1.1 * c.plate_radius_cm
    axis = np.linspace(-half, half, size)
    grid = (axis, axis[::-1])  # rows run from +y (top) to -y
    frame = np.empty((size, size, 3), dtype=np.uint8)
    frame[:] = OUTSIDE
    _disc(frame, grid, 0.0, 0.0, c.plate_radius_cm, AGAR)
    pixel = 2 * half / size
    if c.food:
        _disc(frame, grid, *batch.target[index], c.success_radius_cm, FOOD)
    for x, y in batch.obstacles[index]:
        _disc(frame, grid, x, y, c.obstacle_radius_cm, OBSTACLE)
    _dots(frame, grid, np.asarray(path).reshape(-1, 2), PATH)
    tx, ty = batch.target[index]
    _disc(frame, grid, tx, ty, c.success_radius_cm, TARGET, ring=pixel)
    _disc(frame, grid, tx, ty, 3 * pixel, TARGET)
    worms = batch.worms
    heading = worms.heading[index]
    bend = locomotion.head_angle(worms, c.worm)[index]
    length = BODY_DRAWN * BODY_LENGTH_CM
    along = np.linspace(-0.5, 0.5, 24)
    direction = heading + bend * np.clip(along + 0.5, 0, 1) ** 2  # the bend grows to the head
    head = np.array([worms.x[index], worms.y[index]])
    points = head + np.cumsum(
        np.stack([np.cos(direction), np.sin(direction)], axis=1) * length / len(along), axis=0
    )
    points -= points.mean(axis=0) - head
    for x, y in points:
        _disc(frame, grid, x, y, 1.5 * pixel, BODY)
    _disc(frame, grid, *points[-1], 2.5 * pixel, HEAD)
    corner = max(6, size // 20)
    frame[:corner, :corner] = LIGHT_ON if batch.light[index] else LIGHT_OFF
    return frame
