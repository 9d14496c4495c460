//! TEMPORARY compile shim until the real solver lands (being written now).
#![allow(missing_docs)]
pub struct HedgeProblem<'a> {
    pub position: f64,
    pub horizon: usize,
    pub risk_aversion: f64,
    pub volatility: f64,
    pub max_slice: f64,
    pub spread: &'a dyn Fn(f64) -> f64,
}
pub struct HedgeSchedule {
    pub slices: Vec<f64>,
    pub objective: f64,
    pub feasible: bool,
}
pub fn solve(p: &HedgeProblem) -> HedgeSchedule {
    HedgeSchedule {
        slices: vec![1.0 / p.horizon as f64; p.horizon],
        objective: 0.0,
        feasible: true,
    }
}
