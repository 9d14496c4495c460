"""The Gymnasium environments: the checker passes, the vector environment's autoreset and
seeding, agreement with the single environment, the Avellaneda–Stoikov result, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dealersim
from dealersim.gym import OBSERVATION_FIELDS, QuoteControlEnv, QuoteControlVectorEnv


def avellaneda_stoikov(obs: np.ndarray, gamma=0.1, sigma=2.0, k=1.5) -> np.ndarray:
    """The closed-form depths [δ_bid, δ_ask] for observations [T − t, s, q, x] (B, 4)."""
    time_left, mid, q = obs[:, 0], obs[:, 1], obs[:, 2]
    reservation = mid - q * gamma * sigma**2 * time_left
    half = 0.5 * (gamma * sigma**2 * time_left + 2.0 / gamma * np.log1p(gamma / k))
    return np.ascontiguousarray(np.stack([mid - (reservation - half), reservation + half - mid], axis=1))


def test_the_gymnasium_checker_passes():
    env = QuoteControlEnv()
    check_env(env, skip_render_check=True)
    assert OBSERVATION_FIELDS == ("time_left", "mid", "inventory", "cash")


def test_a_seed_fixes_the_episode_and_an_ended_episode_needs_a_reset():
    env = QuoteControlEnv({"dt": 0.1})
    assert env.steps_per_episode == 10
    traces = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        trace = [obs]
        for _ in range(10):
            obs, reward, terminated, truncated, _ = env.step(np.array([0.7, 0.7]))
            trace.append(np.append(obs, reward))
        assert terminated and not truncated
        traces.append(np.concatenate(trace))
    np.testing.assert_array_equal(traces[0], traces[1])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.7, 0.7]))
    # Without a seed, episodes differ (seeds come from np_random).
    first, _ = env.reset()
    assert env.observation_space.contains(first)


def test_the_vector_environment_autoresets_on_the_next_step_and_matches_single_ones():
    envs = QuoteControlVectorEnv(8, {"dt": 0.1})
    obs, _ = envs.reset(seed=5)
    assert obs.shape == (8, 4) and envs.action_space.shape == (8, 2)
    single = QuoteControlEnv({"dt": 0.1})
    single_obs, _ = single.reset(seed=5)
    np.testing.assert_array_equal(obs[0], single_obs)
    for step in range(10):
        actions = avellaneda_stoikov(obs)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        single_obs, single_reward, *_ = single.step(actions[0])
        np.testing.assert_array_equal(obs[0], single_obs)
        assert rewards[0] == single_reward
        assert terminated.all() == (step == 9) and not truncated.any()
    # The next step starts episode 1 of every environment: time restarts, reward 0.
    obs, rewards, terminated, _, _ = envs.step(np.zeros((8, 2)))
    assert (obs[:, 0] == 1.0).all() and (rewards == 0).all() and not terminated.any()
    assert (obs[:, 2] == 0).all() and (obs[:, 3] == 0).all()


def test_the_avellaneda_stoikov_strategy_earns_the_papers_profit():
    # Avellaneda & Stoikov (2008), Table 1 (γ = 0.1): the inventory strategy's profit is
    # 62.94 on average (sd 5.89). 1,024 episodes put the mean within ±0.6 at 3 s.e.
    envs = QuoteControlVectorEnv(1024)
    obs, _ = envs.reset(seed=1)
    for _ in range(envs.steps_per_episode):
        before = obs
        obs, _, terminated, _, _ = envs.step(avellaneda_stoikov(obs))
    assert terminated.all()
    profit = obs[:, 3] + obs[:, 2] * obs[:, 1]
    assert abs(profit.mean() - 62.94) < 2.0, profit.mean()
    assert 4.0 < profit.std() < 8.0, profit.std()
    assert before.shape == obs.shape


def test_bad_actions_and_configurations_are_refused():
    envs = QuoteControlVectorEnv(4)
    envs.reset(seed=1)
    with pytest.raises(ValueError, match=r"shape \(4, 2\)"):
        envs.step(np.zeros((3, 2)))
    bad = np.zeros((4, 2))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"action \[2, 1\] is NaN"):
        envs.step(bad)
    with pytest.raises(dealersim.ScenarioError) as caught:
        QuoteControlEnv({"k": -1.0})
    assert [p["field"] for p in caught.value.problems] == ["config.k"]
    with pytest.raises(dealersim.ScenarioError, match="sigmaa"):
        QuoteControlEnv({"sigmaa": 1.0})
    with pytest.raises(dealersim.ScenarioError) as caught:
        QuoteControlEnv("(dt: 0.01,\n sigma: oops)")
    assert caught.value.problems[0]["line"] == 2
    with pytest.raises(ValueError, match="num_envs"):
        QuoteControlVectorEnv(0)
    with pytest.raises(RuntimeError, match="reset"):
        QuoteControlVectorEnv(2).step(np.zeros((2, 2)))
