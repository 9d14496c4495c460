//! Any bytes as a scenario file: parsing, validation, warnings, the resource check, field
//! locations and the resolved round trip must never panic, and a valid scenario's
//! resolved form must parse back to itself.
#![no_main]

use std::path::Path;

use dealersim::scenario::locate::FieldLocations;
use dealersim::scenario::{parse_scenario, validate, warnings};
use dealersim::sim::resources::{Limits, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = FieldLocations::scan(text);
    let Ok(scenario) = parse_scenario(text, Path::new("fuzz.ron")) else {
        return;
    };
    let problems = validate(&scenario);
    let _ = warnings(&scenario);
    if problems.is_empty() {
        let limits = Limits {
            memory_bytes: Some(1 << 30),
            disk_bytes: Some(1 << 30),
        };
        let _ = check(&scenario, &limits);
        let resolved = scenario.to_ron().expect("plain data serialises");
        let again = parse_scenario(&resolved, Path::new("resolved.ron"))
            .expect("a resolved scenario parses");
        assert_eq!(again, scenario, "the resolved scenario reads back as itself");
    }
});
