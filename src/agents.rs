//! What every agent of every mechanism has: holdings (position and cash) and its own
//! random stream.

use bevy_ecs::prelude::Component;

use crate::rng::Stream;

/// Position (units, + long) and cash (currency) of any agent. Every trade moves both
/// between exactly two agents, so Σ cash + Σ position·P is conserved.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq)]
pub struct Holdings {
    /// Net position in units.
    pub position: f64,
    /// Cash in currency.
    pub cash: f64,
}

impl Holdings {
    /// Buys `size` units at `price` (a negative size sells).
    #[inline]
    pub fn trade(&mut self, signed_size: f64, price: f64) {
        self.position += signed_size;
        self.cash -= signed_size * price;
    }
}

/// The agent's own random stream (Xoshiro256++, derived from the scenario seed and the
/// agent's id), so parallel iteration never shares a generator.
#[derive(Component, Debug)]
pub struct AgentRng(pub Stream);
