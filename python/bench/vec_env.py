"""Python overhead benchmark: the loop of ``examples/vec_env_loop.rs`` through ``dealersim.gym``.

4,096 Avellaneda–Stoikov market makers (γ = 0.1) stepped as one ``QuoteControlVectorEnv``;
the policy's depths come from NumPy over the batch, then one Rust call steps it. The Rust
example does the same with a plain loop and ``VecEnv::step_depths``; the ratio of seconds
per batch step is the cost of driving the engine from Python.

    python python/bench/vec_env.py [--envs 4096] [--episodes 20] [--rust target/release/examples/vec_env_loop]

With ``--rust`` it also runs the Rust example (same arguments) and prints both figures and
their ratio as JSON. Both print the mean final wealth of the last episode as a checksum:
the two loops simulate the same paths, so it must agree to rounding.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time

import numpy as np

from dealersim.gym import QuoteControlVectorEnv


def python_loop(envs: int, episodes: int, gamma: float = 0.1) -> dict:
    env = QuoteControlVectorEnv(envs)
    sigma, k = env.config["sigma"], env.config["k"]
    spread_constant = 2.0 / k if gamma == 0 else (2.0 / gamma) * math.log1p(gamma / k)
    observations, _ = env.reset(seed=1)
    total = episodes * (env.steps_per_episode + 1)  # + the autoreset step of each episode
    depths = np.empty((envs, 2))
    final_wealth = 0.0
    started = time.perf_counter()
    for t in range(total):
        time_left, mid, inventory = observations[:, 0], observations[:, 1], observations[:, 2]
        risk = gamma * sigma * sigma * time_left
        reservation = mid - inventory * risk
        half = 0.5 * (risk + spread_constant)
        np.subtract(mid, reservation - half, out=depths[:, 0])
        np.subtract(reservation + half, mid, out=depths[:, 1])
        observations, _, _, _, _ = env.step(depths)
        if t + 1 == total - 1:
            wealth = observations[:, 3] + observations[:, 2] * observations[:, 1]
            final_wealth = float(wealth.mean())
    seconds = time.perf_counter() - started
    return {
        "envs": envs,
        "batch_steps": total,
        "seconds": seconds,
        "seconds_per_step": seconds / total,
        "mean_final_wealth": final_wealth,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=4096)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--rust", help="path of the built vec_env_loop example, to compare")
    args = parser.parse_args()
    python = python_loop(args.envs, args.episodes)
    report = {"python": python}
    if args.rust:
        out = subprocess.run(
            [args.rust, str(args.envs), str(args.episodes)],
            check=True, capture_output=True, text=True,
        ).stdout
        rust = json.loads(out)
        report["rust"] = rust
        report["ratio"] = python["seconds_per_step"] / rust["seconds_per_step"]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
