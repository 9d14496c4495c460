"""Gymnasium environments for the quote-control mechanism (Avellaneda & Stoikov 2008).

``QuoteControlEnv`` is one market maker; ``QuoteControlVectorEnv`` steps B of them in one
Rust call. The model is ``dealersim``'s ``MarketMaking`` environment (docs/quote_control.md):
each step of length dt the agent quotes a bid and an ask around the mid s; each side fills
one unit with probability A·e^{−kδ}·dt; then the mid moves.

- **Action**: ``[δ_bid, δ_ask]``, the depths of the bid below and the ask above the mid, in
  price units (bid = s − δ_bid, ask = s + δ_ask). A negative depth quotes through the mid.
  The box is ``[−max_depth, max_depth]²`` with ``max_depth = 10 / k`` by default (a quote
  that far fills at e^{−10} ≈ 4.5·10⁻⁵ of the rate at the mid). Actions outside the box are
  used as given (agents usually clip); non-finite actions raise ``ValueError``.
- **Observation**: ``[T − t, s, q, x]``: time left, mid, inventory (units, > 0 long) and
  cash, float64.
- **Reward**: the configured objective (by default the change in marked-to-market wealth).
- **Episodes** end at the horizon T (``terminated``); nothing truncates them.

Seeds: ``reset(seed=s)`` gives the episode the stream of path 0 of ``s`` (for the vector
environment, environment i gets path i); episode e of environment i after that is path
e·2³² + i. A ``reset()`` without a seed draws one from the environment's ``np_random``.
The same seed gives the same episode whatever the batch size or thread count.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Union

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _dealersim

__all__ = ["QuoteControlEnv", "QuoteControlVectorEnv", "OBSERVATION_FIELDS"]

OBSERVATION_FIELDS: tuple[str, ...] = tuple(_dealersim.MarketMakingBatch.observation_fields())

ConfigLike = Union[None, str, Mapping[str, Any]]


def _batch(config: ConfigLike, count: int) -> _dealersim.MarketMakingBatch:
    if config is None:
        return _dealersim.MarketMakingBatch("{}", count, "json")
    if isinstance(config, Mapping):
        return _dealersim.MarketMakingBatch(json.dumps(config, allow_nan=False), count, "json")
    if isinstance(config, str):
        return _dealersim.MarketMakingBatch(config, count, "ron")
    raise TypeError(f"config is a dict, RON text or None, not {type(config).__name__}")


def _spaces(batch: _dealersim.MarketMakingBatch, max_depth: float | None):
    config = json.loads(batch.config_json)
    if max_depth is None:
        max_depth = 10.0 / config["k"]
    if not (math.isfinite(max_depth) and max_depth > 0):
        raise ValueError(f"max_depth must be finite and > 0, got {max_depth}")
    limit = config.get("max_inventory")
    q_bound = np.inf if limit is None else float(limit)
    observation = spaces.Box(
        low=np.array([0.0, -np.inf, -q_bound, -np.inf]),
        high=np.array([config["horizon"], np.inf, q_bound, np.inf]),
        dtype=np.float64,
    )
    action = spaces.Box(low=-max_depth, high=max_depth, shape=(2,), dtype=np.float64)
    return config, observation, action


def _rust_seed(np_random: np.random.Generator) -> int:
    return int(np_random.integers(0, 2**63 - 1))


class QuoteControlEnv(gymnasium.Env):
    """One Avellaneda–Stoikov market maker as a ``gymnasium.Env`` (see the module docs).

    ``config`` is the ``MarketMaking`` configuration: a dict of its fields (``s0``,
    ``horizon``, ``sigma``, ``dt``, ``a``, ``k``, ``mid``, ``max_inventory``,
    ``order_flow``, ``objective``), RON text ``(sigma: 2.0, ...)``, or None for the paper's
    setting. Unknown or out-of-range fields raise ``dealersim.ScenarioError``.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: ConfigLike = None, max_depth: float | None = None):
        super().__init__()
        self._batch = _batch(config, 1)
        self.config, self.observation_space, self.action_space = _spaces(self._batch, max_depth)
        self._done = True

    @property
    def steps_per_episode(self) -> int:
        """Steps in an episode, T/dt."""
        return self._batch.steps_per_episode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rust_seed = seed if seed is not None else _rust_seed(self.np_random)
        observation = self._batch.reset(rust_seed)[0]
        self._done = False
        return observation, {}

    def step(self, action):
        if self._done:
            raise RuntimeError("the episode has ended (or never started): call reset() first")
        actions = np.ascontiguousarray(np.asarray(action, dtype=np.float64).reshape(1, 2))
        observations, rewards, terminated, truncated = self._batch.step(actions)
        self._done = bool(terminated[0] or truncated[0])
        return observations[0], float(rewards[0]), bool(terminated[0]), bool(truncated[0]), {}


class QuoteControlVectorEnv(VectorEnv):
    """B independent market makers stepped together in one Rust call (``NEXT_STEP``
    autoreset: the step after an episode's last returns the next episode's first
    observation, with reward 0, and ignores that environment's action).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, config: ConfigLike = None, max_depth: float | None = None):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self._batch = _batch(config, int(num_envs))
        self.num_envs = int(num_envs)
        self.config, self.single_observation_space, self.single_action_space = _spaces(
            self._batch, max_depth
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._started = False

    @property
    def steps_per_episode(self) -> int:
        """Steps in an episode, T/dt."""
        return self._batch.steps_per_episode

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if isinstance(seed, (list, tuple)):
            raise ValueError(
                "one seed seeds the whole batch (environment i takes path i of it); "
                "a list of seeds is not supported"
            )
        super().reset(seed=seed)
        rust_seed = seed if seed is not None else _rust_seed(self.np_random)
        self._started = True
        return self._batch.reset(rust_seed), {}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = np.ascontiguousarray(actions, dtype=np.float64)
        observations, rewards, terminated, truncated = self._batch.step(actions)
        return observations, rewards, terminated, truncated, {}
