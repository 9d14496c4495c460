//! A short soak: a busy market for thousands of ticks keeps its state bounded (the
//! position-revenue queue holds at most t_m + 1 ticks of trades, the price path a
//! t_m-tick look-ahead) and its accounts conserved. `docs/robustness.md` has the
//! year-long run (35,040 ticks) and its memory profile.

use std::path::Path;

use dealersim::Simulation;
use dealersim::market::MarketProcess;
use dealersim::mechanisms::dealer_market::resources::PositionRevenueQueue;
use dealersim::scenario::parse_scenario;

const BUSY: &str = r#"Scenario(
    seed: 3,
    steps: 4000,
    market: (volatility: 0.3),
    mechanisms: [DealerMarket(
        tier_snapshots: Off,
        investors: [Group(count: 200, p_trade: Uniform(min: 0.05, max: 0.3),
                          size_mean: LogUniform(min: 0.5, max: 20.0))],
        market_makers: [
            (name: "A", alpha: 1.2),
            (name: "B", alpha: 1.4, tiering: RevenueRate()),
            (name: "C", alpha: 1.3, hedging: (venue: Exchange)),
        ],
    )],
)"#;

#[test]
fn a_long_run_keeps_its_state_bounded_and_its_accounts_conserved() {
    let scenario = parse_scenario(BUSY, Path::new("soak.ron")).expect("parses");
    let mut sim = Simulation::new(&scenario).expect("valid");
    // At most 200 investor trades and 3 hedges a tick, kept t_m + 1 = 5 ticks (and the
    // hedger's own side of each hedge).
    let queue_bound = 5 * (200 + 2 * 3);
    let mut worst_residual = 0.0f64;
    while sim.tick() < scenario.steps {
        sim.step().expect("step");
        let world = sim.world();
        let queued = world.resource::<PositionRevenueQueue>().len();
        assert!(
            queued <= queue_bound,
            "tick {}: {queued} trades queued",
            sim.tick()
        );
        let kept = world.resource::<MarketProcess>().path.kept();
        assert!(kept <= 6, "tick {}: {kept} prices kept", sim.tick());
        if sim.tick().is_multiple_of(100) {
            worst_residual = worst_residual.max(sim.accounting_residual().abs());
        }
    }
    assert!(worst_residual < 1e-10, "residual {worst_residual}");
}
