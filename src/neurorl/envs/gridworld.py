"""The 10x10 stochastic gridworld of Aenugu et al.'s spiking-coagent code (``gridworld.py``).

The agent starts in the top-left cell (state 0) and the episode terminates on entering the
bottom-right cell (state 99) with reward +10; every other step gives 0. An attempted move
goes in the intended direction with probability 0.8, veers to either side (90 degrees) with
0.05 each and fails (the agent stays) with 0.1; a move into the border leaves the agent in
place. The companion code discounts by gamma = 0.9 and caps episodes at 300 steps (the
registered time limit).

Observation: the cell index ``row * 10 + col`` (``Discrete(100)``); actions: 0 up, 1 down,
2 left, 3 right. :func:`optimal_mean_episode_length` solves the MDP exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

SIZE = 10
GOAL_REWARD = 10.0
GAMMA = 0.9
MAX_EPISODE_STEPS = 300
ENV_ID = "neurorl/Gridworld-v0"

# (row, col) displacement of up, down, left, right
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])
# the two sideways moves of each action (the companion code's veer table)
VEERS = np.array([[2, 3], [3, 2], [1, 0], [0, 1]])
P_INTENDED, P_VEER, P_STAY = 0.8, 0.05, 0.1


def transition_matrix(size: int = SIZE) -> np.ndarray:
    """``P[s, a, s']``: the probability of moving from cell ``s`` to ``s'`` under action ``a``
    (the goal is absorbing)."""
    cells = size * size
    P = np.zeros((cells, 4, cells))
    for state in range(cells):
        row, col = divmod(state, size)
        for action in range(4):
            outcomes = [(action, P_INTENDED), (VEERS[action, 0], P_VEER)]
            outcomes += [(VEERS[action, 1], P_VEER)]
            for move, probability in outcomes:
                r = min(max(row + MOVES[move, 0], 0), size - 1)
                c = min(max(col + MOVES[move, 1], 0), size - 1)
                P[state, action, r * size + c] += probability
            P[state, action, state] += P_STAY
    goal = cells - 1
    P[goal] = 0.0
    P[goal, :, goal] = 1.0
    return P


def optimal_policy(size: int = SIZE, gamma: float = GAMMA, tolerance: float = 1e-12) -> np.ndarray:
    """The optimal action of every cell for the discounted return (value iteration on
    ``V(s) = max_a sum_s' P(s'|s,a) (r(s') + gamma V(s'))``, the goal terminal)."""
    P = transition_matrix(size)
    goal = size * size - 1
    reward = np.zeros(size * size)
    reward[goal] = GOAL_REWARD
    values = np.zeros(size * size)
    while True:
        continuation = values.copy()
        continuation[goal] = 0.0  # nothing follows the terminal state
        q = P @ (reward + gamma * continuation)
        new_values = q.max(axis=1)
        new_values[goal] = 0.0
        if np.abs(new_values - values).max() < tolerance:
            return q.argmax(axis=1)
        values = new_values


def mean_episode_lengths(policy: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Expected steps to the goal from every cell under a deterministic ``policy [cells]``:
    the exact solution of ``t = 1 + P_pi t`` on the non-goal cells (no time limit)."""
    P = transition_matrix(size)
    cells = size * size
    transient = np.arange(cells - 1)
    P_pi = P[transient, policy[transient]][:, transient]
    lengths = np.zeros(cells)
    lengths[transient] = np.linalg.solve(np.eye(cells - 1) - P_pi, np.ones(cells - 1))
    return lengths


def optimal_mean_episode_length(size: int = SIZE, gamma: float = GAMMA) -> float:
    """The optimal policy's expected episode length from the start cell, in steps."""
    return float(mean_episode_lengths(optimal_policy(size, gamma), size)[0])


class GridworldEnv(gym.Env):
    """The companion code's stochastic gridworld (module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.observation_space = gym.spaces.Discrete(size * size)
        self.action_space = gym.spaces.Discrete(4)
        self.goal = size * size - 1
        self.state = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.state = 0
        return self.state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in 0..3, got {action!r}")
        draw = self.np_random.random()
        row, col = divmod(self.state, self.size)
        if draw < P_INTENDED + 2 * P_VEER:
            move = action if draw < P_INTENDED else VEERS[action, int(draw >= P_INTENDED + P_VEER)]
            row = min(max(row + MOVES[move, 0], 0), self.size - 1)
            col = min(max(col + MOVES[move, 1], 0), self.size - 1)
        self.state = int(row * self.size + col)
        terminated = self.state == self.goal
        return self.state, GOAL_REWARD if terminated else 0.0, terminated, False, {}


if ENV_ID not in gym.registry:
    gym.register(
        ENV_ID,
        entry_point="neurorl.envs.gridworld:GridworldEnv",
        max_episode_steps=MAX_EPISODE_STEPS,
    )
