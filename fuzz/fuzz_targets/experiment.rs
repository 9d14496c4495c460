//! Any bytes as an experiment file: parsing, the design's checks, its variants' checks
//! and warnings must never panic.
#![no_main]

use std::path::Path;

use dealersim::experiments::{parse_experiment, total_runs, warnings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = parse_experiment(text, Path::new("fuzz.ron")) {
        let _ = warnings(&config);
        let _ = total_runs(&config);
    }
});
