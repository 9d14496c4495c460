//! The run manifest (`manifest.json`): what produced an output directory.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Identity and provenance of a run. Every field but `wall_time_seconds` is a pure
/// function of the scenario, its seed and the crate version.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// `dealersim` crate version that wrote the run.
    pub dealersim_version: &'static str,
    /// The scenario's name.
    pub scenario_name: String,
    /// The scenario file the run was started from, as given on the command line.
    pub scenario_source: String,
    /// SHA-256 of `scenario.ron` (the resolved scenario, every default written out).
    pub scenario_sha256: String,
    /// Master seed.
    pub seed: u64,
    /// Ticks simulated.
    pub steps: u32,
    /// Each mechanism of the run, in scenario order.
    pub mechanisms: Vec<ManifestMechanism>,
    /// Name of the per-entity random generator.
    pub rng: &'static str,
    /// Files of the run with their row counts (tables) in writing order.
    pub files: Vec<ManifestFile>,
    /// Seconds the simulation took (the only field that varies between identical runs).
    pub wall_time_seconds: f64,
}

/// One mechanism of a run: its kind, entity counts and conservation residual.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ManifestMechanism {
    /// The kind, as written in the scenario.
    pub kind: &'static str,
    /// Entity counts by role, as the mechanism names them.
    pub population: std::collections::BTreeMap<&'static str, u64>,
    /// Σ cash + Σ position·price over its agents at the end, relative to the gross cash
    /// (zero up to rounding).
    pub accounting_residual: f64,
    /// The mechanism's own figures of the run (e.g. how many trades were truncated).
    pub figures: std::collections::BTreeMap<&'static str, serde_json::Value>,
}

/// One file of a run.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestFile {
    /// File name inside the output directory.
    pub name: String,
    /// Row count for tables; absent for other files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
