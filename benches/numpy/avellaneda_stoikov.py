"""The Avellaneda-Stoikov market-making model of dealersim's quote-control environment,
vectorised over paths with NumPy: what a researcher would write for the comparison in
BENCHMARKS.md. 4,096 paths x 200 steps, the inventory strategy at gamma = 0.1, the
binomial mid, fills with probability min(1, A exp(-k delta) dt) per side and step.

    python3 benches/numpy/avellaneda_stoikov.py [paths] [repeats]
"""
import sys
import time

import numpy as np


def run(paths, rng, s0=100.0, T=1.0, sigma=2.0, dt=0.005, A=140.0, k=1.5, gamma=0.1):
    steps = int(round(T / dt))
    s = np.full(paths, s0)
    q = np.zeros(paths)
    cash = np.zeros(paths)
    const = 2.0 / gamma * np.log1p(gamma / k)
    for n in range(steps):
        tau = T - n * dt
        r = s - q * gamma * sigma**2 * tau
        half = 0.5 * (gamma * sigma**2 * tau + const)
        ask, bid = r + half, r - half
        p_ask = np.minimum(1.0, A * np.exp(-k * (ask - s)) * dt)
        p_bid = np.minimum(1.0, A * np.exp(-k * (s - bid)) * dt)
        u = rng.random((3, paths))
        sold = u[0] < p_ask
        bought = u[1] < p_bid
        q += bought.astype(float) - sold.astype(float)
        cash += np.where(sold, ask, 0.0) - np.where(bought, bid, 0.0)
        s += np.where(u[2] < 0.5, sigma * np.sqrt(dt), -sigma * np.sqrt(dt))
    return cash + q * s, q


def main():
    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    rng = np.random.default_rng(1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        profit, q = run(paths, rng)
        times.append(time.perf_counter() - start)
    times.sort()
    print(
        f"numpy {np.__version__}: {paths} paths x 200 steps: median {times[len(times) // 2] * 1e3:.2f} ms "
        f"(min {times[0] * 1e3:.2f}); profit mean {profit.mean():.2f} sd {profit.std(ddof=1):.2f}, "
        f"q sd {q.std(ddof=1):.2f}"
    )


if __name__ == "__main__":
    main()
