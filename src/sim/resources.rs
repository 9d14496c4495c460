//! What a run will need before it starts: memory and output size estimated from the
//! scenario (each mechanism estimates its own), held against what the machine has, so
//! a population that cannot be allocated is refused with its fields named instead of
//! aborting mid-build, and a run that would fill the disk is refused before it starts.

use std::path::Path;

use crate::scenario::{Problem, Scenario};

/// A mechanism's estimate of what a run needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceEstimate {
    /// Peak memory, bytes.
    pub memory_bytes: u64,
    /// How the memory is made up, for the message (e.g. "10,000,000 agents × 156 B").
    pub memory_detail: String,
    /// The field whose value drives the memory (where the problem is reported).
    pub memory_field: String,
    /// Bytes of output tables, in the scenario's format.
    pub output_bytes: u64,
    /// How the output is made up.
    pub output_detail: String,
    /// The field whose value drives the output size.
    pub output_field: String,
}

/// What the run may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of memory available (`None`: unknown, not checked).
    pub memory_bytes: Option<u64>,
    /// Free bytes where the output goes (`None`: unknown, not checked).
    pub disk_bytes: Option<u64>,
    /// The tables are kept in memory (`run_in_memory`, Python) rather than written: their
    /// bytes count against `memory_bytes`, and the disk is not checked.
    pub tables_in_memory: bool,
}

impl Limits {
    /// This machine's limits for outputs under `out_dir`, with the memory capped at
    /// `max_memory` when given (the CLI's `--max-memory`).
    pub fn for_run(out_dir: &Path, max_memory: Option<u64>) -> Self {
        let mut limits = Self::of_this_machine(Some(out_dir));
        if max_memory.is_some() {
            limits.memory_bytes = max_memory;
        }
        limits
    }

    /// This machine's: available memory (`MemAvailable` of `/proc/meminfo`, where there is
    /// one) and the free space of the file system that will hold `out_dir` (its nearest
    /// existing ancestor), when given.
    pub fn of_this_machine(out_dir: Option<&Path>) -> Self {
        let available = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_available(&text));
        // In a container the cgroup's limit, not the host's free memory, is what counts.
        let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        let memory_bytes = match (available, cgroup) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        };
        let disk_bytes = out_dir.and_then(|dir| {
            // A relative path's last ancestor is "", which names the current directory.
            let existing = dir
                .ancestors()
                .map(|a| {
                    if a.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        a
                    }
                })
                .find(|a| a.exists())?;
            fs4::available_space(existing).ok()
        });
        Self {
            memory_bytes,
            disk_bytes,
            tables_in_memory: false,
        }
    }

    /// This machine's limits for a run whose tables stay in memory.
    pub fn in_memory() -> Self {
        Self {
            tables_in_memory: true,
            ..Self::of_this_machine(None)
        }
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Each mechanism's estimate, in scenario order.
fn estimates(scenario: &Scenario) -> Vec<ResourceEstimate> {
    scenario
        .mechanisms
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.as_mechanism()
                .resource_estimate(scenario, &format!("mechanisms[{i}]"))
        })
        .collect()
}

/// The bytes of tables a run of `scenario` is estimated to write.
pub fn output_bytes(scenario: &Scenario) -> u64 {
    estimates(scenario).iter().map(|e| e.output_bytes).sum()
}

/// Problems with running `scenario` within `limits`: one per mechanism whose estimate
/// exceeds the memory, one for the output size against the disk.
pub fn check(scenario: &Scenario, limits: &Limits) -> Vec<Problem> {
    let mut problems = Vec::new();
    let estimates = estimates(scenario);
    let output: u64 = estimates.iter().map(|e| e.output_bytes).sum();
    let mut memory: u64 = estimates.iter().map(|e| e.memory_bytes).sum();
    if limits.tables_in_memory {
        memory = memory.saturating_add(output);
    }
    if let Some(available) = limits.memory_bytes
        && memory > available
        && let Some(largest) = estimates.iter().max_by_key(|e| e.memory_bytes)
    {
        // Where the kept tables outweigh the population, they are what to shrink.
        let tables_dominate = limits.tables_in_memory && output > largest.memory_bytes;
        let (path, detail) = match estimates.iter().max_by_key(|e| e.output_bytes) {
            Some(out) if tables_dominate => (
                out.output_field.clone(),
                format!("tables kept in memory: {}", out.output_detail),
            ),
            _ => (largest.memory_field.clone(), largest.memory_detail.clone()),
        };
        problems.push(Problem {
            path,
            message: format!(
                "the run needs about {} of memory ({detail}), more than the {} available: \
                 shrink the population or the tables, or run on a larger machine",
                human(memory),
                human(available)
            ),
        });
    }
    if let Some(free) = limits.disk_bytes.filter(|_| !limits.tables_in_memory)
        && output > free
        && let Some(largest) = estimates.iter().max_by_key(|e| e.output_bytes)
    {
        problems.push(Problem {
            path: largest.output_field.clone(),
            message: format!(
                "the run would write about {} of tables ({}), more than the {} free where \
                 they go: fewer steps, fewer snapshots or no per-trade table",
                human(output),
                largest.output_detail,
                human(free)
            ),
        });
    }
    problems
}

/// Bytes in binary units with three significant digits: "512 B", "4.20 GiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:  1 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(mem_available(text), Some(2 * 1024 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn a_relative_output_directory_still_gets_a_disk_check() {
        let limits = Limits::of_this_machine(Some(Path::new("no/such/relative/dir")));
        assert!(limits.disk_bytes.is_some());
    }

    /// Kept in memory, the tables count against the memory and not the disk: a limit
    /// between the population's footprint and footprint + tables refuses only that run.
    #[test]
    fn tables_kept_in_memory_count_against_the_memory() {
        let text = std::fs::read_to_string("scenarios/paper.ron").expect("paper scenario");
        let mut scenario =
            crate::scenario::parse_scenario(&text, Path::new("paper.ron")).expect("paper");
        scenario.steps = 1_000_000;
        let world: u64 = estimates(&scenario).iter().map(|e| e.memory_bytes).sum();
        let tables = output_bytes(&scenario);
        assert!(tables > world, "the long run's tables outweigh its World");
        let on_disk = Limits {
            memory_bytes: Some(world + tables / 2),
            disk_bytes: Some(2 * tables),
            tables_in_memory: false,
        };
        assert!(check(&scenario, &on_disk).is_empty());
        let in_memory = Limits {
            disk_bytes: Some(0),
            tables_in_memory: true,
            ..on_disk
        };
        let problems = check(&scenario, &in_memory);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("tables kept in memory"));
        assert!(problems[0].path.starts_with("mechanisms[0]") || problems[0].path == "steps");
        let roomy = Limits {
            memory_bytes: Some(world + 2 * tables),
            ..in_memory
        };
        assert!(
            check(&scenario, &roomy).is_empty(),
            "no disk check in memory"
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 30), "3.00 GiB");
        assert_eq!(human(1536), "1.50 KiB");
    }
}
