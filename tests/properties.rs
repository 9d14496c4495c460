//! Property tests (proptest): the reference curve's shape for any admissible λ, v_max
//! and size, and the accounting invariant over randomly drawn small markets.

use std::path::Path;

use dealersim::Simulation;
use dealersim::market::reference_curve::CurveShape;
use dealersim::scenario::parse_scenario;
use proptest::prelude::*;

proptest! {
    /// S_ref(v)/S_ref(0) is 1 at v = 0, at least 1 and finite below v_max, increasing in
    /// v, and refused at v_max and beyond.
    #[test]
    fn the_reference_curve_rises_from_one_and_diverges_only_at_v_max(
        lambda in 1.01f64..6.0,
        v_max in 1.0f64..1e6,
        a in 0.0f64..1.0,
        b in 0.0f64..1.0,
    ) {
        let shape = CurveShape::new(lambda, v_max);
        prop_assert!((shape.ratio(0.0).unwrap() - 1.0).abs() < 1e-12);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (v_lo, v_hi) = (lo * v_max * 0.999, hi * v_max * 0.999);
        let (r_lo, r_hi) = (shape.ratio(v_lo).unwrap(), shape.ratio(v_hi).unwrap());
        prop_assert!(r_lo.is_finite() && r_hi.is_finite());
        prop_assert!(r_lo >= 1.0 - 1e-12, "ratio {r_lo} below 1");
        prop_assert!(r_hi >= r_lo * (1.0 - 1e-12), "not increasing: {r_lo} then {r_hi}");
        prop_assert!(shape.ratio(v_max).is_err());
        prop_assert!(shape.ratio(v_max * 1.5).is_err());
    }

    /// The λ = 2 branch (logarithmic) is the limit of the power branch.
    #[test]
    fn the_logarithmic_branch_is_the_limit_of_the_power_branch(x in 0.001f64..0.99) {
        let v_max = 1000.0;
        let at_two = CurveShape::new(2.0, v_max).ratio(x * v_max).unwrap();
        let near = CurveShape::new(2.0 + 1e-7, v_max).ratio(x * v_max).unwrap();
        prop_assert!((at_two - near).abs() <= 1e-5 * at_two, "{at_two} vs {near}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Whatever the population, curves, tiering and hedging venue, every trade moves cash
    /// and units between two parties: Σ cash + Σ position·P stays zero every tick.
    #[test]
    fn accounting_is_conserved_in_any_small_market(
        seed in 0u64..1000,
        p_max in 0.05f64..0.9,
        size in 0.5f64..50.0,
        alpha_a in 0.8f64..2.0,
        alpha_b in 0.8f64..2.0,
        tiering in 0usize..3,
        exchange in any::<bool>(),
        volatility in 0.0f64..0.6,
    ) {
        let tiering = ["AverageYield()", "RevenueRate()", "Fixed(default_tier: 1)"][tiering];
        let venue = if exchange { "Exchange" } else { "MarketMakers" };
        let text = format!(
            r#"Scenario(
    seed: {seed},
    steps: 40,
    market: (volatility: {volatility}),
    mechanisms: [DealerMarket(
        tier_snapshots: Off,
        investors: [Group(count: 60, p_trade: Uniform(min: 0.01, max: {p_max}),
                          size_mean: LogUniform(min: 0.5, max: {size}))],
        market_makers: [
            (name: "A", alpha: {alpha_a}, tiering: {tiering}, hedging: (venue: {venue})),
            (name: "B", alpha: {alpha_b}, tiering: {tiering}),
            (name: "C", hedging: None),
        ],
    )],
)"#
        );
        let scenario = parse_scenario(&text, Path::new("prop.ron")).expect("parses");
        let mut sim = Simulation::new(&scenario).expect("valid");
        while sim.tick() < scenario.steps {
            sim.step().expect("step");
            let residual = sim.accounting_residual();
            prop_assert!(residual.abs() < 1e-9, "tick {}: residual {residual}", sim.tick());
        }
    }
}
