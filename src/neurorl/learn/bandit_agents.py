"""Agents for non-stationary Gaussian bandits, each vectorised over ``S`` seeds as numpy arrays.

Every agent has the same three calls: ``act() -> actions [S]``, ``update(actions [S],
rewards [S])`` and ``signals() -> {name: [S]}`` (its learning rate and exploration temperature
where it has them, for the traces around switches). Hyper-parameters are floats, or arrays
``[S]`` (one value per seed: a whole grid search runs as one batch). Rewards are unbounded
Gaussians, so every exploration bonus is in reward units (the ``[0, 1]`` constants of the
textbook algorithms are rescaled by their ``bonus`` parameter).

The agents:

- :class:`Boltzmann`: ``Q_a += lr (r - Q_a)``, ``a ~ softmax(Q / T)``, T and lr fixed.
- :class:`EpsilonGreedy`: the same values, greedy with probability ``1 - epsilon``.
- :class:`DiscountedUCB` (Garivier & Moulines 2011): every arm's count and reward sum are
  discounted by ``gamma`` each step; ``a = argmax X_a / N_a + bonus sqrt(log n / N_a)``.
  ``variant="code"`` is the public code of Lee et al. 2024: only the total count and the
  pulled arm's count are discounted (``N <- gamma N + 1``) and values follow
  ``Q_a += lr (r - Q_a)``; its bonus is ``sqrt(bonus log N / N_a)``.
- :class:`SlidingWindowUCB` (Garivier & Moulines 2011): UCB on the last ``window`` steps.
- :class:`DiscountedThompson`: Gaussian Thompson sampling on discounted statistics (every arm
  discounted each step; known noise ``noise_sd``, prior ``N(0, prior_sd^2)``).
- :class:`MonitoredUCB` (M-UCB, Cao et al. 2019): UCB on the samples since the last alarm, a
  change detector on each arm's last ``window`` rewards (halves' sums differ by more than
  ``threshold``), and forced uniform exploration at rate ``exploration``.
- :class:`DoyaDaYu`: Lee et al. 2024's adaptive agent (see its docstring for the text's and
  the public code's forms and the oracles).
- :class:`NeuromodulatedAgent`: neurorl's agent beyond the paper (see its docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from neurorl.neuromod import (
    CusumState,
    Moments,
    acetylcholine,
    cusum_step,
    dopamine,
    ensemble_variance,
    inverse_temperature,
    moments_step,
    moments_variance,
    noradrenaline,
    softmax,
    surprise,
)

HyperParameter = float | np.ndarray
# The true means and spreads of the current block, ``[S, arms]`` each (oracle agents only).
Truth = Callable[[], tuple[np.ndarray, np.ndarray]]


def per_seed(value: HyperParameter, seeds: int) -> np.ndarray:
    """A hyper-parameter as a column ``[S, 1]`` (a float, or one value per seed)."""
    return np.broadcast_to(np.asarray(value, dtype=float).reshape(-1, 1), (seeds, 1))


def sample_categorical(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probabilities [S, K]``."""
    cumulative = probabilities.cumsum(axis=-1)
    u = rng.random((len(probabilities), 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < u).sum(axis=-1), probabilities.shape[-1] - 1)


def unseen_first(actions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``actions``, except that a seed with an arm never pulled pulls its first such arm."""
    unseen = counts <= 0
    return np.where(unseen.any(axis=-1), unseen.argmax(axis=-1), actions)


class BanditAgent:
    """Shared state: ``seeds`` rows, ``arms`` arms, the agent's own random stream."""

    def __init__(self, seeds: int, arms: int, rng: np.random.Generator) -> None:
        self.seeds, self.arms, self.rng = seeds, arms, rng
        self.rows = np.arange(seeds)

    def act(self) -> np.ndarray:
        raise NotImplementedError

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        raise NotImplementedError

    def signals(self) -> dict[str, np.ndarray]:
        return {}


class Boltzmann(BanditAgent):
    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        temperature: HyperParameter = 0.7,
        learning_rate: HyperParameter = 0.2,
    ) -> None:
        super().__init__(seeds, arms, rng)
        self.temperature = per_seed(temperature, seeds)
        self.learning_rate = per_seed(learning_rate, seeds)[:, 0]
        self.values = np.zeros((seeds, arms))

    def act(self) -> np.ndarray:
        return sample_categorical(softmax(self.values, 1.0 / self.temperature), self.rng)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        chosen = self.values[self.rows, actions]
        self.values[self.rows, actions] = chosen + self.learning_rate * (rewards - chosen)

    def signals(self) -> dict[str, np.ndarray]:
        return {"learning_rate": self.learning_rate, "temperature": self.temperature[:, 0]}


class EpsilonGreedy(Boltzmann):
    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        epsilon: HyperParameter = 0.05,
        learning_rate: HyperParameter = 0.2,
    ) -> None:
        super().__init__(seeds, arms, rng, learning_rate=learning_rate)
        self.epsilon = per_seed(epsilon, seeds)[:, 0]

    def act(self) -> np.ndarray:
        explore = self.rng.random(self.seeds) < self.epsilon
        uniform = self.rng.integers(self.arms, size=self.seeds)
        return np.where(explore, uniform, self.values.argmax(axis=-1))

    def signals(self) -> dict[str, np.ndarray]:
        return {"learning_rate": self.learning_rate}


class DiscountedUCB(BanditAgent):
    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        gamma: HyperParameter = 0.99,
        bonus: HyperParameter = 1.0,
        variant: Literal["textbook", "code"] = "textbook",
        learning_rate: HyperParameter = 0.1,
    ) -> None:
        super().__init__(seeds, arms, rng)
        if variant not in ("textbook", "code"):
            raise ValueError(f"variant must be 'textbook' or 'code', got {variant!r}")
        self.variant = variant
        self.gamma, self.bonus = per_seed(gamma, seeds), per_seed(bonus, seeds)
        self.learning_rate = per_seed(learning_rate, seeds)[:, 0]
        self.counts = np.zeros((seeds, arms))  # discounted N_a (floats)
        self.total = np.zeros((seeds, 1))  # discounted n (the code's own total)
        self.sums = np.zeros((seeds, arms))  # textbook: discounted reward sums
        self.values = np.zeros((seeds, arms))  # code: Q_a

    def act(self) -> np.ndarray:
        counts = np.maximum(self.counts, 1e-12)
        log_total = np.log(np.maximum(self.total, 1.0))
        if self.variant == "textbook":
            index = self.sums / counts + self.bonus * np.sqrt(log_total / counts)
        else:
            index = self.values + np.sqrt(self.bonus * log_total / counts)
        return unseen_first(index.argmax(axis=-1), self.counts)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        rows = self.rows
        if self.variant == "textbook":
            self.counts *= self.gamma
            self.sums *= self.gamma
            self.sums[rows, actions] += rewards
            self.counts[rows, actions] += 1.0
            self.total = self.counts.sum(axis=-1, keepdims=True)
        else:
            self.total = self.gamma * self.total + 1.0
            self.counts[rows, actions] = self.gamma[:, 0] * self.counts[rows, actions] + 1.0
            chosen = self.values[rows, actions]
            self.values[rows, actions] = chosen + self.learning_rate * (rewards - chosen)


class SlidingWindowUCB(BanditAgent):
    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        window: int = 200,
        bonus: HyperParameter = 1.0,
    ) -> None:
        super().__init__(seeds, arms, rng)
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window, self.bonus = int(window), per_seed(bonus, seeds)
        self.past_actions = np.full((self.window, seeds), -1)
        self.past_rewards = np.zeros((self.window, seeds))
        self.counts = np.zeros((seeds, arms))
        self.sums = np.zeros((seeds, arms))
        self.t = 0

    def act(self) -> np.ndarray:
        counts = np.maximum(self.counts, 1.0)
        horizon = np.log(max(min(self.t, self.window), 1))
        index = self.sums / counts + self.bonus * np.sqrt(horizon / counts)
        return unseen_first(index.argmax(axis=-1), self.counts)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        slot = self.t % self.window
        leaving = self.past_actions[slot]
        full = leaving >= 0
        rows = self.rows[full]
        self.counts[rows, leaving[full]] -= 1.0
        self.sums[rows, leaving[full]] -= self.past_rewards[slot, full]
        self.counts[self.rows, actions] += 1.0
        self.sums[self.rows, actions] += rewards
        self.past_actions[slot], self.past_rewards[slot] = actions, rewards
        self.t += 1


class DiscountedThompson(BanditAgent):
    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        gamma: HyperParameter = 0.99,
        noise_sd: HyperParameter = 1.0,
        prior_sd: HyperParameter = 5.0,
    ) -> None:
        super().__init__(seeds, arms, rng)
        self.gamma = per_seed(gamma, seeds)
        self.noise_variance = per_seed(noise_sd, seeds) ** 2
        self.prior_precision = 1.0 / per_seed(prior_sd, seeds) ** 2
        self.counts = np.zeros((seeds, arms))
        self.sums = np.zeros((seeds, arms))

    def act(self) -> np.ndarray:
        precision = self.prior_precision + self.counts / self.noise_variance
        mean = self.sums / self.noise_variance / precision
        draws = mean + self.rng.standard_normal((self.seeds, self.arms)) / np.sqrt(precision)
        return draws.argmax(axis=-1)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.counts *= self.gamma
        self.sums *= self.gamma
        self.counts[self.rows, actions] += 1.0
        self.sums[self.rows, actions] += rewards


class MonitoredUCB(BanditAgent):
    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        window: int = 50,
        threshold: HyperParameter = 20.0,
        exploration: float = 0.02,
        bonus: HyperParameter = 1.0,
    ) -> None:
        super().__init__(seeds, arms, rng)
        if window < 2 or window % 2:
            raise ValueError(f"window must be an even number >= 2, got {window}")
        if not 0 <= exploration <= 1:
            raise ValueError(f"exploration must be in [0, 1], got {exploration}")
        self.window, self.threshold = int(window), per_seed(threshold, seeds)[:, 0]
        self.bonus = per_seed(bonus, seeds)
        # forced exploration: the first K steps of every period of floor(K / rate) steps
        self.period = int(arms / exploration) if exploration > 0 else 0
        self.recent = np.zeros((seeds, arms, self.window))  # ring buffer of each arm's rewards
        self.filled = np.zeros((seeds, arms), dtype=np.int64)  # rewards since the last alarm
        self.sums = np.zeros((seeds, arms))
        self.since_alarm = np.zeros(seeds, dtype=np.int64)
        self.alarms = np.zeros(seeds, dtype=np.int64)

    def act(self) -> np.ndarray:
        counts = np.maximum(self.filled, 1)
        log_t = np.log(np.maximum(self.since_alarm, 1))[:, None]
        index = self.sums / counts + self.bonus * np.sqrt(log_t / counts)
        actions = unseen_first(index.argmax(axis=-1), self.filled)
        if self.period:
            phase = self.since_alarm % self.period
            actions = np.where(phase < self.arms, phase, actions)
        return actions

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        rows, w = self.rows, self.window
        filled = self.filled[rows, actions]
        self.recent[rows, actions, filled % w] = rewards
        filled += 1
        self.filled[rows, actions] = filled
        self.sums[rows, actions] += rewards
        self.since_alarm += 1
        # the last w rewards of the pulled arm, oldest first
        order = (filled[:, None] + np.arange(w)) % w
        last = np.take_along_axis(self.recent[rows, actions], order, axis=-1)
        gap = np.abs(last[:, : w // 2].sum(-1) - last[:, w // 2 :].sum(-1))
        alarm = (filled >= w) & (gap > self.threshold)
        self.filled[alarm] = 0
        self.sums[alarm] = 0.0
        self.since_alarm[alarm] = 0
        self.alarms += alarm


EpistemicRule = Literal["ensemble", "prediction_error", "oracle"]
AleatoricRule = Literal["variance", "second_moment", "oracle_variance", "oracle_mean_sd"]


@dataclass(frozen=True)
class DoyaDaYuRules:
    """Which form of each part of the adaptive agent (the paper's text by default).

    - ``epistemic``: ``ensemble``, the variance across the ensemble per arm (text);
      ``prediction_error``, ``0.1 sqrt(D)`` with D a moving average (rate 0.1) of squared
      prediction errors pooled over members (code); ``oracle``, ``mean_a (mu_a - Qbar_a)^2``
      (the full oracle).
    - ``aleatoric``: ``variance``, the learned second moment minus the squared mean, per arm
      (text); ``second_moment``, ``sqrt`` of the mean learned second moment ``E[r^2]`` (code);
      ``oracle_variance``, the true variance per arm; ``oracle_mean_sd``, the true spread
      averaged over arms (the code's oracle).
    - ``learning_rate``: ``per_arm`` (text) or ``scalar``, the mean over arms (code).
    - ``policy``: ``softmax``, ``softmax(Qbar / T)`` with ``T = mean_a E_a`` (text);
      ``double_softmax``, ``softmax(softmax(Qbar) / T)`` with T the softmax(Qbar)-weighted
      mean of E (code).
    """

    epistemic: EpistemicRule = "ensemble"
    aleatoric: AleatoricRule = "variance"
    learning_rate: Literal["per_arm", "scalar"] = "per_arm"
    policy: Literal["softmax", "double_softmax"] = "softmax"


TEXT = DoyaDaYuRules()
CODE = DoyaDaYuRules("prediction_error", "second_moment", "scalar", "double_softmax")


class DoyaDaYu(BanditAgent):
    """Lee et al. 2024's adaptive agent: an ensemble of ``members`` value estimates per arm,
    each member updated with probability ``mask_probability`` (bootstrap masks), at the
    acetylcholine learning rate ``alpha = E / (E + A)``; actions from a softmax at the
    noradrenaline temperature ``T = E``. ``rules`` picks the text's or the code's form of each
    part; the oracles read ``truth`` (the current means and spreads)."""

    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        members: int = 20,
        mask_probability: float = 0.5,
        initial_sd: float = 0.01,
        rules: DoyaDaYuRules = TEXT,
        truth: Truth | None = None,
    ) -> None:
        super().__init__(seeds, arms, rng)
        if members < 2:
            raise ValueError(f"the ensemble needs >= 2 members, got {members}")
        oracle = rules.epistemic == "oracle" or rules.aleatoric.startswith("oracle")
        if oracle and truth is None:
            raise ValueError("an oracle rule needs the bandit's truth")
        self.members, self.mask_probability = members, mask_probability
        self.rules, self.truth = rules, truth
        shape = (seeds, arms, members)
        self.moments = Moments(initial_sd * rng.standard_normal(shape), np.zeros(shape))
        # per-arm summaries of the ensemble, refreshed for the pulled arm only
        self.values = self.moments.mean.mean(-1)  # Qbar [S, arms]
        self.spread = ensemble_variance(self.moments.mean)  # E of the text [S, arms]
        self.variance = moments_variance(self.moments).mean(-1)  # A of the text [S, arms]
        self.second = np.zeros((seeds, arms))  # mean learned E[r^2] [S, arms]
        self.pulls = np.zeros((seeds, arms))
        self.squared_error = np.zeros(seeds)  # the code's D
        self._alpha = np.ones((seeds, arms))
        self._temperature = np.ones(seeds)

    def epistemic(self) -> np.ndarray:
        """E per arm ``[S, arms]``."""
        if self.rules.epistemic == "ensemble":
            return self.spread
        if self.rules.epistemic == "prediction_error":
            pooled = 0.1 * np.sqrt(self.squared_error)
            return np.broadcast_to(pooled[:, None], (self.seeds, self.arms))
        means, _ = self.truth()
        error = ((means - self.values) ** 2).mean(-1)
        return np.broadcast_to(error[:, None], (self.seeds, self.arms))

    def aleatoric(self) -> np.ndarray:
        """A per arm ``[S, arms]``."""
        rule = self.rules.aleatoric
        if rule == "variance":
            return self.variance
        if rule == "second_moment":
            pooled = np.sqrt(np.maximum(self.second, 0.0).mean(-1))
            return np.broadcast_to(pooled[:, None], (self.seeds, self.arms))
        _, sds = self.truth()
        if rule == "oracle_variance":
            return sds**2
        return np.broadcast_to(sds.mean(-1, keepdims=True), (self.seeds, self.arms))

    def act(self) -> np.ndarray:
        values, epistemic = self.values, self.epistemic()
        alpha = acetylcholine(epistemic, self.aleatoric())
        if self.rules.learning_rate == "scalar":
            alpha = np.broadcast_to(alpha.mean(-1, keepdims=True), alpha.shape)
        self._alpha = alpha
        if self.rules.policy == "softmax":
            temperature = noradrenaline(epistemic.mean(-1))
        else:
            values = softmax(values)
            temperature = noradrenaline((values * epistemic).sum(-1))
        self._temperature = temperature
        probabilities = softmax(values, inverse_temperature(temperature)[:, None])
        return unseen_first(sample_categorical(probabilities, self.rng), self.pulls)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        rows = self.rows
        mask = self.rng.random((self.seeds, self.members)) < self.mask_probability
        rate = self._alpha[rows, actions][:, None] * mask  # [S, members]
        pulled = Moments(self.moments.mean[rows, actions], self.moments.second[rows, actions])
        error = dopamine(rewards[:, None], pulled.mean)
        per_member = 1.0 / self.members  # sums times this: means without np.mean's overhead
        self.squared_error += 0.1 * ((error * error).sum(-1) * per_member - self.squared_error)
        updated = moments_step(pulled, rewards[:, None], rate)
        self.moments.mean[rows, actions] = updated.mean
        self.moments.second[rows, actions] = updated.second
        values = updated.mean.sum(-1) * per_member
        self.values[rows, actions] = values
        deviation = updated.mean - values[:, None]
        self.spread[rows, actions] = (deviation * deviation).sum(-1) * per_member
        self.variance[rows, actions] = moments_variance(updated).sum(-1) * per_member
        self.second[rows, actions] = updated.second.sum(-1) * per_member
        self.pulls[rows, actions] += 1

    def signals(self) -> dict[str, np.ndarray]:
        return {"learning_rate": self._alpha.mean(-1), "temperature": self._temperature}


# The epistemic uncertainty of an arm never pulled (since a reset): its first reward is taken
# whole (alpha = E / (E + A) = 1 to within 1e-12).
UNKNOWN = 1e12


class NeuromodulatedAgent(BanditAgent):
    """neurorl's adaptive agent: a Kalman filter per arm whose gain is acetylcholine, Thompson
    exploration whose noise is noradrenaline (the posterior spread), and a change detector on
    dopamine's prediction errors that turns unexpected uncertainty into a reset.

    Per arm: the mean ``m``, the epistemic uncertainty ``E`` (the posterior variance of ``m``)
    and the rewards' variance ``v`` over ``n`` pulls; aleatoric ``A = (n v + prior_variance) /
    (n + 1)`` (the learned variance with one prior pseudo-observation). Every step every arm's
    ``E`` grows by ``volatility`` (the means may drift or jump: an arm left alone becomes worth
    a look again). A pull learns at the Kalman gain ``alpha = E / (E + A)`` (ACh):
    ``m += alpha (r - m)``, ``E <- alpha A``, ``v <- (1 - beta)(v + beta (r - m)^2)`` with
    ``beta = 1 / (n + 1)``. Acting: ``argmax_a m_a + noise_scale sqrt(E_a) xi_a``, ``xi ~
    N(0, 1)`` (NA), arms not pulled since the reset first. Change: a two-sided CUSUM on ``z =
    (r - m) / sqrt(A + E)`` of the pulled arm (once it has ``min_pulls``) with ``drift`` and
    ``threshold``, and a second on ``u = (r - m)^2 / (v + E) - 1`` (a change of spread without
    one of mean; once the arm has ``variance_pulls``); an alarm resets every arm
    (``reset="all"``: a context switch redraws the whole bandit) or the pulled arm only.
    """

    def __init__(
        self,
        seeds: int,
        arms: int,
        rng: np.random.Generator,
        drift: HyperParameter = 0.5,
        threshold: HyperParameter = 8.0,
        noise_scale: HyperParameter = 1.0,
        volatility: HyperParameter = 1e-3,
        prior_variance: float = 1.0,
        min_pulls: int = 3,
        variance_pulls: HyperParameter = 10,
        reset: Literal["all", "arm"] = "all",
    ) -> None:
        super().__init__(seeds, arms, rng)
        if reset not in ("all", "arm"):
            raise ValueError(f"reset must be 'all' or 'arm', got {reset!r}")
        self.drift, self.threshold = per_seed(drift, seeds), per_seed(threshold, seeds)
        self.variance_pulls = per_seed(variance_pulls, seeds)[:, 0]
        self.volatility = per_seed(volatility, seeds)
        self.min_pulls, self.reset = min_pulls, reset
        self.noise_scale = per_seed(noise_scale, seeds)
        self.prior_variance = prior_variance
        self.pulls = np.zeros((seeds, arms))
        self.means = np.zeros((seeds, arms))
        self.variances = np.zeros((seeds, arms))
        self.uncertainty = np.full((seeds, arms), UNKNOWN)  # E
        self.cusum = CusumState(np.zeros((seeds, arms)), np.zeros((seeds, arms)))
        self.spread_cusum = CusumState(np.zeros((seeds, arms)), np.zeros((seeds, arms)))
        self.alarms = np.zeros(seeds, dtype=np.int64)
        self._alpha = np.ones(seeds)
        self._noise = np.ones(seeds)

    def aleatoric(self) -> np.ndarray:
        return (self.pulls * self.variances + self.prior_variance) / (self.pulls + 1.0)

    def act(self) -> np.ndarray:
        noise = self.noise_scale * np.sqrt(self.uncertainty)
        draws = self.means + noise * self.rng.standard_normal((self.seeds, self.arms))
        pulled = self.pulls > 0
        self._noise = (noise * pulled).sum(-1) / np.maximum(pulled.sum(-1), 1)
        return unseen_first(draws.argmax(axis=-1), self.pulls)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        rows = self.rows
        pulls = self.pulls[rows, actions]
        aleatoric = self.aleatoric()[rows, actions]
        epistemic = self.uncertainty[rows, actions]
        error = dopamine(rewards, self.means[rows, actions])
        alpha = acetylcholine(epistemic, aleatoric)
        self._alpha = alpha
        beta = 1.0 / (pulls + 1.0)
        variances = self.variances[rows, actions]
        self.variances[rows, actions] = (1.0 - beta) * (variances + beta * error * error)
        self.means[rows, actions] += alpha * error
        self.uncertainty[rows, actions] = alpha * aleatoric
        self.uncertainty += self.volatility
        self.pulls[rows, actions] = pulls + 1
        z = np.zeros((self.seeds, self.arms))
        z[rows, actions] = surprise(error, aleatoric + epistemic)
        active = np.zeros((self.seeds, self.arms), dtype=bool)
        active[rows, actions] = pulls >= self.min_pulls
        alarm, self.cusum = cusum_step(self.cusum, z, self.drift, self.threshold, active)
        u = np.zeros((self.seeds, self.arms))
        u[rows, actions] = surprise(error, variances + epistemic) ** 2 - 1.0
        active[rows, actions] = pulls >= self.variance_pulls
        spread_alarm, self.spread_cusum = cusum_step(
            self.spread_cusum, u, self.drift, self.threshold, active
        )
        alarm = alarm | spread_alarm
        if self.reset == "all":
            alarm = np.broadcast_to(alarm.any(-1, keepdims=True), alarm.shape)
        for array in (self.pulls, self.means, self.variances, *self.cusum, *self.spread_cusum):
            array[alarm] = 0.0
        self.uncertainty[alarm] = UNKNOWN
        self.alarms += alarm.any(-1)

    def signals(self) -> dict[str, np.ndarray]:
        return {"learning_rate": self._alpha, "temperature": self._noise}
