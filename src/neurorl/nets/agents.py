"""Trained policies as agents with Stable-Baselines3's ``predict``.

``predict(observation, state=None)`` takes one observation ``[obs_dim]`` or a batch ``[B,
obs_dim]`` (NumPy or torch) and returns ``(action, state)``: an int or an array ``[B]`` (a
vector ``[act_dim]`` or ``[B, act_dim]`` for continuous actions), and the network state to
pass back on the next call (None at an episode's start; stateless policies return None).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neurorl.nets.policies import BatchedPolicy


def _as_batch(observation: Any, device: torch.device) -> tuple[Tensor, bool]:
    """``(observations [B, obs_dim] float32 on device, whether one observation was given)``."""
    x = torch.as_tensor(np.asarray(observation), dtype=torch.float32, device=device)
    return (x[None], True) if x.dim() == 1 else (x, False)


def _as_output(actions: Tensor, single: bool) -> Any:
    array = actions.detach().cpu().numpy()
    if not single:
        return array
    return array[0].item() if array[0].ndim == 0 else array[0]


class PolicyAgent:
    """One parameter vector of a :class:`BatchedPolicy` (ES, STDP-RL: plasticity off). Its
    random draws (a spike-count vote's tie-breaks) come from its own ``generator``."""

    def __init__(self, policy: BatchedPolicy, params: Tensor, generator: torch.Generator):
        self.policy, self.params, self.generator = policy, params[None], generator

    @torch.no_grad()
    def predict(
        self, observation: Any, state: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        obs, single = _as_batch(observation, self.params.device)
        if state is None:
            state = self.policy.start(self.params, len(obs))
        output, state = self.policy.act(obs[None], self.params, state, self.generator)
        return _as_output(output.actions[0], single), state


class GreedyAgent:
    """A network acting greedily, ``greedy(obs [B, obs_dim]) -> actions`` (a DQN's
    Q-network, a TD3 actor); stateless."""

    def __init__(self, greedy: Callable[[Tensor], Tensor], device: torch.device | str = "cpu"):
        self.greedy, self.device = greedy, torch.device(device)

    @torch.no_grad()
    def predict(
        self, observation: Any, state: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        obs, single = _as_batch(observation, self.device)
        return _as_output(self.greedy(obs), single), None
