"""A random quoting policy against the Avellaneda–Stoikov optimum, through Gymnasium.

    python python/examples/random_rollout.py

Runs 1,000 episodes of each policy in one ``QuoteControlVectorEnv`` and prints the mean
and standard deviation of their profit. Expect the optimal policy (γ = 0.1) near a mean of
65 with a standard deviation near 6.5, and the random one (depths uniform in [0, 2/k])
lower, with about twice the spread.
"""

import math

import numpy as np

from dealersim.gym import QuoteControlVectorEnv

EPISODES = 1_000
GAMMA = 0.1


def optimal(observations: np.ndarray, sigma: float, k: float) -> np.ndarray:
    time_left, mid, inventory = observations[:, 0], observations[:, 1], observations[:, 2]
    risk = GAMMA * sigma**2 * time_left
    reservation = mid - inventory * risk
    half = 0.5 * (risk + (2 / GAMMA) * math.log1p(GAMMA / k))
    return np.stack([mid - (reservation - half), reservation + half - mid], axis=1)


def profits(policy) -> np.ndarray:
    env = QuoteControlVectorEnv(EPISODES)
    observations, _ = env.reset(seed=2026)
    total = np.zeros(EPISODES)
    for _ in range(env.steps_per_episode):
        observations, rewards, _, _, _ = env.step(policy(env, observations))
        total += rewards
    return total


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    for name, policy in [
        ("optimal (γ = 0.1)", lambda env, o: optimal(o, env.config["sigma"], env.config["k"])),
        ("random", lambda env, o: rng.uniform(0, 2 / env.config["k"], size=(env.num_envs, 2))),
    ]:
        p = profits(policy)
        print(f"{name:>18}: profit {p.mean():7.2f} ± {p.std():5.2f} over {EPISODES} episodes")
