//! A run stopped by a signal leaves no file in its output directory: SIGTERM and SIGINT
//! stop it cleanly (exit 143 and 130); after SIGKILL the staging beside the directory is
//! removed by the next run, or by `dealersim clean`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A run long enough to be mid-way when the signal comes.
const LONG_RUN: &str = r#"Scenario(
    steps: 1000000,
    mechanisms: [DealerMarket(
        tier_snapshots: Off,
        investors: [Group(count: 2000, p_trade: Const(0.1), size_mean: Const(2.0))],
        market_makers: [(name: "A"), (name: "B")],
    )],
    output: (trades: true),
)"#;

fn start(dir: &Path) -> Child {
    let scenario = dir.join("long.ron");
    std::fs::write(&scenario, LONG_RUN).expect("write scenario");
    Command::new(env!("CARGO_BIN_EXE_dealersim"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--quiet")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dealersim")
}

/// Waits until the run has staged its tables (so the signal arrives mid-run).
fn wait_for_staging(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while staging_dirs(dir).is_empty() {
        assert!(Instant::now() < deadline, "the run never started staging");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A few ticks into the run.
    std::thread::sleep(Duration::from_millis(300));
}

fn staging_dirs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.staging-"))
        .collect()
}

/// Files in the output directory (which may not exist at all).
fn output_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("out"))
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn sigterm_and_sigint_stop_the_run_and_leave_nothing() {
    for (name, code) in [("TERM", 143), ("INT", 130)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let child = start(dir.path());
        wait_for_staging(dir.path());
        signal(&child, name);
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "SIG{name}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            output_files(dir.path()).is_empty(),
            "{:?}",
            output_files(dir.path())
        );
        assert!(
            staging_dirs(dir.path()).is_empty(),
            "{:?}",
            staging_dirs(dir.path())
        );
    }
}

#[test]
fn after_sigkill_the_next_run_or_clean_removes_the_staging() {
    for next in ["run", "clean"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = start(dir.path());
        wait_for_staging(dir.path());
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        assert!(
            output_files(dir.path()).is_empty(),
            "a partial file in the output"
        );
        assert_eq!(
            staging_dirs(dir.path()).len(),
            1,
            "the killed run's staging"
        );
        let out = dir.path().join("out");
        let status = match next {
            "run" => Command::new(env!("CARGO_BIN_EXE_dealersim"))
                .arg("run")
                .arg(dir.path().join("long.ron"))
                .args(["--steps", "2", "--quiet", "--out"])
                .arg(&out)
                .status(),
            _ => Command::new(env!("CARGO_BIN_EXE_dealersim"))
                .arg("clean")
                .arg(&out)
                .stdout(Stdio::null())
                .status(),
        }
        .expect("run dealersim");
        assert!(status.success());
        assert!(
            staging_dirs(dir.path()).is_empty(),
            "{next} left {:?}",
            staging_dirs(dir.path())
        );
    }
}

/// An experiment stopped by SIGINT or SIGTERM starts no further replication, writes
/// nothing and exits 130 or 143, instead of running every replication to the end.
#[test]
fn a_signal_stops_an_experiment_and_leaves_nothing() {
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("exp");
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_dealersim"))
            .args([
                "experiment",
                "risk-aversion",
                "--runs",
                "100000",
                "--quiet",
                "--out",
            ])
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dealersim");
        // Replications are running by now (100,000 of each variant would take hours).
        std::thread::sleep(Duration::from_millis(800));
        signal(&child, name);
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "SIG{name}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            !out.exists(),
            "SIG{name} left {:?}",
            output_files(dir.path())
        );
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}
