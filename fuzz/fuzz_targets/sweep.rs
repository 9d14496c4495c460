//! Any bytes as a sweep file over the bundled paper scenario: parsing, path checks, the
//! per-value and per-point checks, cell numbering, every cell's scenario and the plan
//! must never panic, and a valid sweep's cells must all build.
#![no_main]

use std::path::Path;

use dealersim::sim::resources::Limits;
use dealersim::sweep::Sweep;
use libfuzzer_sys::fuzz_target;

const BASE: &str = include_str!("../../scenarios/paper.ron");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok(sweep) = Sweep::parse_with_base(text, Path::new("fuzz.ron"), &limits, |_| {
        Ok(BASE.to_owned())
    }) else {
        return;
    };
    let _ = sweep.plan();
    // A valid sweep builds every cell it checked (at most a few hundred, to keep it fast).
    for index in (0..sweep.cell_count()).take(256) {
        let cell = sweep.cell(index);
        assert!(sweep.scenario_of(&cell).is_ok(), "cell {index} of a valid sweep fails");
        let _ = sweep.cell_id(index);
    }
});
