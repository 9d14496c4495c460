//! Any bytes as a benchmark rung: parsing and its scenario's validation must never panic.
#![no_main]

use dealersim::bench::BenchRung;
use dealersim::scenario::load::parse_ron;
use dealersim::scenario::validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rung) = parse_ron::<BenchRung>(text) {
        let _ = validate(&rung.scenario);
    }
});
