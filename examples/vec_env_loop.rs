//! The Rust side of the Python overhead benchmark (`python/bench/vec_env.py`): 4,096
//! Avellaneda–Stoikov market makers stepped in one batch, the policy's depths computed
//! in a loop and the batch stepped through `VecEnv::step_depths`, as the Python loop
//! does with NumPy and `QuoteControlVectorEnv`.
//!
//! `cargo run --release --example vec_env_loop [ENVS] [EPISODES]` prints seconds per
//! batch step and a checksum (the mean final wealth) to compare with the Python loop's.

use std::time::Instant;

use dealersim::mechanisms::quote_control::market_making::{FlatSteps, MarketMakingConfig, VecEnv};
use dealersim::mechanisms::quote_control::policies::{optimal_spread, reservation_price};

fn main() {
    let mut args = std::env::args().skip(1);
    let envs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4096);
    let episodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let config = MarketMakingConfig::default();
    let (gamma, sigma, k) = (0.1, config.sigma, config.k);
    let steps = config.steps() as usize;
    let mut batch = VecEnv::new(&config, envs);
    let mut observations: Vec<[f64; 4]> = batch.reset(1).iter().map(|o| o.to_array()).collect();
    let mut rewards = vec![0.0; envs];
    let mut terminated = vec![false; envs];
    let mut truncated = vec![false; envs];
    let mut depths = vec![[0.0; 2]; envs];
    let mut final_wealth = 0.0;
    let started = Instant::now();
    // One step more per episode: the autoreset step that starts the next one.
    let total = episodes * (steps + 1);
    for t in 0..total {
        for (depth, &[time_left, mid, inventory, _cash]) in depths.iter_mut().zip(&observations) {
            let r = reservation_price(mid, inventory as i64, gamma, sigma, time_left);
            let half = 0.5 * optimal_spread(gamma, sigma, k, time_left);
            *depth = [mid - (r - half), (r + half) - mid];
        }
        batch.step_depths(
            &depths,
            FlatSteps {
                observations: &mut observations,
                rewards: &mut rewards,
                terminated: &mut terminated,
                truncated: &mut truncated,
            },
        );
        if t + 1 == total - 1 {
            // The last real step of the last episode: its wealth, x + q·s.
            final_wealth =
                observations.iter().map(|o| o[3] + o[2] * o[1]).sum::<f64>() / envs as f64;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"envs\": {envs}, \"batch_steps\": {total}, \"seconds\": {seconds:.4}, \
         \"seconds_per_step\": {:.3e}, \"mean_final_wealth\": {final_wealth:.6}}}",
        seconds / total as f64
    );
}
