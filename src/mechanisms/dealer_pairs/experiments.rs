//! The `dealer-pairs` experiment (placeholder while the mechanism is wired up).
