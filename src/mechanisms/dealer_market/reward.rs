//! Rewards (SPEC §2.3): position revenue t_m ticks after each trade (feeding the
//! books' yields), risk cost, and the tick's totals.

use bevy_ecs::prelude::*;

use super::components::{Ledger, MakersById, MarketMakerId};
use super::resources::{DealerRules, PositionRevenueQueue};
use super::tiering::CounterpartyBook;
use crate::market::{Clock, MarketState};

/// Reward: trades made t_m ticks ago earn (P_t − P_trade)·ṽ, and their yield feeds the
/// quoting market maker's score of the counterparty.
pub(super) fn settle_position_revenue(
    clock: Res<Clock>,
    state: Res<MarketState>,
    rules: Res<DealerRules>,
    mut queue: ResMut<PositionRevenueQueue>,
    mut makers: MakersById<(&mut CounterpartyBook, &mut Ledger)>,
) {
    let Some(trade_tick) = clock.tick.checked_sub(rules.position_horizon) else {
        return;
    };
    let due = queue.take_due(trade_tick);
    if due.is_empty() {
        return;
    }
    let mut makers = makers.in_id_order();
    for trade in due {
        let position_revenue = (state.price - trade.mid_at_trade) * trade.maker_signed_size;
        let notional = trade.maker_signed_size.abs() * trade.mid_at_trade;
        let (_, (book, ledger)) = &mut makers[trade.maker as usize];
        ledger.tick.position_revenue += position_revenue;
        let trade_yield = (trade.spread_revenue + position_revenue) / notional;
        // A size that underflowed to 0 has no yield; a NaN would poison the score for good.
        if trade.scores && trade_yield.is_finite() {
            book.record_yield(trade.counterparty as usize, trade_yield);
        }
    }
}

/// Reward: risk cost on the position carried into the tick, then the tick's totals.
pub(super) fn charge_risk_and_close(
    state: Res<MarketState>,
    mut ledgers: Query<&mut Ledger, With<MarketMakerId>>,
) {
    let price_change = state.price - state.previous_price;
    for mut ledger in &mut ledgers {
        ledger.tick.risk_cost = risk_cost(ledger.position_at_open, price_change);
        ledger.close_tick();
    }
}

/// The risk cost min(z_t·(P_t − P_{t−1}), 0) of the position z_t carried into the tick.
/// Not `.min(0.0)`: which zero `min` returns for −0.0 (a flat position times a fall)
/// is unspecified, and differed between debug and release builds, so the same run
/// wrote "-0.0" in one and "0.0" in the other. A loss is negative; anything else is
/// +0.0.
fn risk_cost(position_at_open: f64, price_change: f64) -> f64 {
    let change_in_value = position_at_open * price_change;
    if change_in_value < 0.0 {
        change_in_value
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_cost_is_the_loss_or_positive_zero() {
        assert_eq!(risk_cost(2.0, -0.5), -1.0);
        assert_eq!(risk_cost(-2.0, 0.5), -1.0);
        // Gains and flat positions cost nothing, and "nothing" is +0.0 in every build.
        for (position, change) in [(2.0, 0.5), (0.0, -0.5), (-0.0, 0.5), (3.0, 0.0)] {
            assert_eq!(risk_cost(position, change).to_bits(), 0.0f64.to_bits());
        }
    }
}
