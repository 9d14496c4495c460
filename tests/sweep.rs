//! Sweeps end to end through the binary: shards run concurrently merge to the same bytes
//! as one unsharded run, `--resume` after a kill -9 re-runs only the incomplete cells,
//! a bad grid path is located and runs nothing, and the Slurm templates map array tasks
//! to shards.
//!
//! Unix only: the tests kill processes, run the Slurm shell templates and read inodes.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dealersim");

fn base_scenario(investors: u32, steps: u32) -> String {
    format!(
        r#"Scenario(
    name: "sweep-test",
    seed: 11,
    steps: {steps},
    mechanisms: [
        DealerMarket(
            tier_snapshots: Off,
            investors: [Group(count: {investors}, p_trade: Const(0.1), size_mean: Const(2.0))],
            market_makers: [
                (name: "A", alpha: 1.2),
                (name: "B", alpha: 1.4, tier_penalty: 1e-5),
            ],
        ),
    ],
)"#
    )
}

/// 3 × 2 grid points × 4 seeds = 24 cells.
const SWEEP: &str = r#"Sweep(
    scenario: "base.ron",
    seeds: 4,
    grid: {
        "mechanisms[0].market_makers[1].tier_penalty": [0.0, 1e-5, 2e-5],
        "market.volatility": [0.1, 0.3],
    },
)"#;

/// A directory holding `base.ron` and `sweep.ron`.
fn sweep_dir(investors: u32, steps: u32, sweep: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("base.ron"), base_scenario(investors, steps)).expect("write");
    std::fs::write(dir.path().join("sweep.ron"), sweep).expect("write");
    dir
}

fn dealersim(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run dealersim")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn complete_cells(out: &Path) -> BTreeMap<String, u64> {
    let Ok(entries) = std::fs::read_dir(out.join("cells")) else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let record = e.path().join("cell.json");
            let inode = std::fs::metadata(&record).ok()?.ino();
            Some((e.file_name().to_string_lossy().into_owned(), inode))
        })
        .collect()
}

#[test]
fn four_concurrent_shards_merge_to_the_unsharded_table() {
    let dir = sweep_dir(400, 20, SWEEP);
    let sweep = dir.path().join("sweep.ron");
    let whole = dir.path().join("whole");
    let sharded = dir.path().join("sharded");

    let run = dealersim(&["sweep", path(&sweep), "--out", path(&whole), "--quiet"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // As an array job would: four processes at once, one output directory.
    let shards: Vec<_> = (0..4)
        .map(|i| {
            Command::new(BIN)
                .args(["sweep", path(&sweep), "--out", path(&sharded), "--quiet"])
                .arg("--shard")
                .arg(format!("{i}/4"))
                .stderr(Stdio::piped())
                .spawn()
                .expect("start shard")
        })
        .collect();
    for shard in shards {
        let output = shard.wait_with_output().expect("wait shard");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(complete_cells(&sharded).len(), 24);
    // Each shard ran the cells ≡ i (mod 4).
    for (id, _) in complete_cells(&sharded) {
        let text = std::fs::read_to_string(sharded.join("cells").join(&id).join("cell.json"))
            .expect("cell record");
        let cell: u64 = id.parse().expect("numeric id");
        assert!(
            text.contains(&format!("\"shard\": \"{}/4\"", cell % 4)),
            "{id}"
        );
    }

    let merged_whole = dir.path().join("merged-whole");
    let merged_sharded = dir.path().join("merged-sharded");
    for (from, to) in [(&whole, &merged_whole), (&sharded, &merged_sharded)] {
        let merge = dealersim(&["merge", path(from), "--out", path(to), "--quiet"]);
        assert!(
            merge.status.success(),
            "{}",
            String::from_utf8_lossy(&merge.stderr)
        );
    }
    let a = std::fs::read(merged_whole.join("summary.parquet")).expect("merged table");
    let b = std::fs::read(merged_sharded.join("summary.parquet")).expect("merged table");
    assert_eq!(
        a, b,
        "the sharded sweep's merged table differs from the unsharded one"
    );

    // One row per cell and market maker, the grid's paths as columns.
    let reader = parquet::file::reader::SerializedFileReader::new(
        std::fs::File::open(merged_whole.join("summary.parquet")).expect("open"),
    )
    .expect("parquet");
    use parquet::file::reader::FileReader as _;
    let metadata = reader.metadata();
    assert_eq!(metadata.file_metadata().num_rows(), 48);
    let columns: Vec<String> = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert_eq!(
        columns[..6],
        [
            "cell",
            "seed_index",
            "seed",
            "mechanisms[0].market_makers[1].tier_penalty",
            "market.volatility",
            "market_maker"
        ]
    );
    assert!(merged_whole.join("timing.parquet").exists());

    // Merging both directories finds every cell twice, and says which.
    let both = dealersim(&[
        "merge",
        path(&whole),
        path(&sharded),
        "--out",
        path(&dir.path().join("both")),
    ]);
    assert!(!both.status.success());
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(
        stderr.contains("24 cells present twice: 0000 (in"),
        "{stderr}"
    );
    assert!(!dir.path().join("both").exists());
}

#[test]
fn resume_after_kill_reruns_only_the_incomplete_cells() {
    let dir = sweep_dir(2000, 48, SWEEP);
    let sweep = dir.path().join("sweep.ron");
    let out = dir.path().join("out");
    let mut child = Command::new(BIN)
        .args(["sweep", path(&sweep), "--out", path(&out), "--quiet"])
        .spawn()
        .expect("start sweep");
    // Kill it outright a few cells in, while the next cell is staging.
    let deadline = Instant::now() + Duration::from_secs(120);
    while complete_cells(&out).len() < 3 {
        assert!(Instant::now() < deadline, "no cell completed");
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the sweep ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    let before = complete_cells(&out);
    assert!(before.len() >= 3 && before.len() < 24, "{before:?}");

    // Merging now names the missing cells.
    let merge = dealersim(&["merge", path(&out), "--out", path(&dir.path().join("m"))]);
    assert!(!merge.status.success());
    let stderr = String::from_utf8_lossy(&merge.stderr);
    assert!(
        stderr.contains(&format!("{} of 24 cells missing", 24 - before.len())),
        "{stderr}"
    );

    // Without --resume the complete cells are not silently redone.
    let again = dealersim(&["sweep", path(&sweep), "--out", path(&out), "--quiet"]);
    assert_eq!(again.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&again.stderr).contains("pass --resume"));

    let resumed = dealersim(&["sweep", path(&sweep), "--out", path(&out), "--resume"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        stdout.contains(&format!(
            "ran {}, skipped {} already complete",
            24 - before.len(),
            before.len()
        )),
        "{stdout}"
    );
    let after = complete_cells(&out);
    assert_eq!(after.len(), 24);
    for (id, inode) in &before {
        assert_eq!(after.get(id), Some(inode), "complete cell {id} was redone");
    }
    // The killed cell's staging is gone.
    let hidden: Vec<_> = std::fs::read_dir(out.join("cells"))
        .expect("cells")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    let merge = dealersim(&["merge", path(&out), "--out", path(&dir.path().join("m"))]);
    assert!(
        merge.status.success(),
        "{}",
        String::from_utf8_lossy(&merge.stderr)
    );
}

#[test]
fn sigterm_keeps_the_complete_cells_and_abandons_the_one_under_way() {
    let dir = sweep_dir(2000, 48, SWEEP);
    let sweep = dir.path().join("sweep.ron");
    let out = dir.path().join("out");
    let child = Command::new(BIN)
        .args(["sweep", path(&sweep), "--out", path(&out), "--quiet"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sweep");
    let deadline = Instant::now() + Duration::from_secs(120);
    while complete_cells(&out).is_empty() {
        assert!(Instant::now() < deadline, "no cell completed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(143));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let kept = complete_cells(&out).len();
    assert!(
        stderr.contains(&format!("interrupted: {kept} cell")),
        "{stderr}"
    );
    assert!(kept < 24);
    // Neither a staged cell nor a partial cell.json is left.
    let names: Vec<String> = std::fs::read_dir(out.join("cells"))
        .expect("cells")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    for name in &names {
        let dir = out.join("cells").join(name);
        if !dir.join("cell.json").exists() {
            let files: Vec<_> = std::fs::read_dir(&dir).expect("cell").flatten().collect();
            assert!(
                files.is_empty(),
                "the abandoned cell {name} holds {files:?}"
            );
        }
    }
}

#[test]
fn a_bad_grid_path_is_located_and_nothing_runs() {
    let sweep = r#"Sweep(
    scenario: "base.ron",
    grid: {
        "market.volatility": [0.1, 0.2],
        "mechanisms[0].market_makers[9].alpha": [1.1, 1.3],
    },
)"#;
    let dir = sweep_dir(400, 20, sweep);
    let out = dir.path().join("out");
    let run = dealersim(&[
        "sweep",
        path(&dir.path().join("sweep.ron")),
        "--out",
        path(&out),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("sweep.ron:5:49  grid `mechanisms[0].market_makers[9].alpha`: `mechanisms[0].market_makers` has 2 items (indices 0 to 1), so it has no item 9"),
        "{stderr}"
    );
    assert!(
        !out.exists(),
        "a refused sweep created its output directory"
    );

    // A value out of range is located at the value itself.
    let sweep = r#"Sweep(
    scenario: "base.ron",
    grid: { "market.volatility": [0.1, -0.2] },
)"#;
    std::fs::write(dir.path().join("sweep.ron"), sweep).expect("write");
    let run = dealersim(&[
        "sweep",
        path(&dir.path().join("sweep.ron")),
        "--out",
        path(&out),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("sweep.ron:3:40  market.volatility: must be ≥ 0, got -0.2"),
        "{stderr}"
    );
    assert!(!out.exists());
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/slurm")
}

/// A stand-in for a program: records its arguments (one a line) and prints `reply`.
fn stub(dir: &Path, name: &str, reply: &str) -> PathBuf {
    let log = dir.join(format!("{name}.log"));
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" >> '{}'\necho ---- >> '{}'\necho '{reply}'\n",
            log.display(),
            log.display()
        ),
    )
    .expect("write stub");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    script
}

#[test]
fn the_slurm_templates_parse_and_map_array_tasks_to_shards() {
    for script in ["sweep.sbatch", "merge.sbatch", "submit.sh"] {
        let status = Command::new("bash")
            .arg("-n")
            .arg(assets().join(script))
            .status()
            .expect("bash");
        assert!(status.success(), "{script} does not parse");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = stub(dir.path(), "dealersim", "");
    // (task id, count, min, step) -> shard: --array=0-3, --array=1-4, --array=0-6:2.
    for (id, count, min, step, shard) in [
        ("2", "4", None, None, "2/4"),
        ("4", "4", Some("1"), None, "3/4"),
        ("6", "4", Some("0"), Some("2"), "3/4"),
    ] {
        let log = dir.path().join("dealersim.log");
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new("bash");
        command
            .arg(assets().join("sweep.sbatch"))
            .env("SWEEP", "grid.ron")
            .env("OUT", "/scratch/out")
            .env("DEALERSIM", &fake)
            .env("SLURM_ARRAY_TASK_ID", id)
            .env("SLURM_ARRAY_TASK_COUNT", count)
            .env_remove("SLURM_ARRAY_TASK_MIN")
            .env_remove("SLURM_ARRAY_TASK_STEP")
            .env_remove("SHARDS");
        if let Some(min) = min {
            command.env("SLURM_ARRAY_TASK_MIN", min);
        }
        if let Some(step) = step {
            command.env("SLURM_ARRAY_TASK_STEP", step);
        }
        assert!(command.status().expect("bash").success());
        let args = std::fs::read_to_string(&log).expect("stub log");
        assert_eq!(
            args,
            format!(
                "sweep\ngrid.ron\n--shard\n{shard}\n--out\n/scratch/out\n--resume\n--quiet\n----\n"
            ),
            "task {id} of {count} (min {min:?}, step {step:?})"
        );
    }
    // With SHARDS (as submit.sh exports it) a task resubmitted alone keeps its shard.
    let log = dir.path().join("dealersim.log");
    let _ = std::fs::remove_file(&log);
    let alone = Command::new("bash")
        .arg(assets().join("sweep.sbatch"))
        .env("SWEEP", "grid.ron")
        .env("OUT", "/scratch/out")
        .env("DEALERSIM", &fake)
        .env("SHARDS", "16")
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_COUNT", "1")
        .env("SLURM_ARRAY_TASK_MIN", "5")
        .status()
        .expect("bash");
    assert!(alone.success());
    assert!(
        std::fs::read_to_string(&log)
            .expect("log")
            .contains("--shard\n5/16\n")
    );

    // Outside an array job the task script refuses to guess.
    let outside = Command::new("bash")
        .arg(assets().join("sweep.sbatch"))
        .env("SWEEP", "grid.ron")
        .env("OUT", "/scratch/out")
        .env("DEALERSIM", &fake)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .expect("bash");
    assert!(!outside.status.success());

    // submit.sh queues the array, then the merge after it succeeds.
    let sbatch = stub(dir.path(), "sbatch", "4242;cluster");
    let path_var = format!(
        "{}:{}",
        sbatch.parent().expect("dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let submitted = Command::new("bash")
        .arg(assets().join("submit.sh"))
        .args([
            "grid.ron",
            "/scratch/out",
            "/scratch/result",
            "16",
            "--partition=short",
        ])
        .env("PATH", path_var)
        .output()
        .expect("bash");
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let calls = std::fs::read_to_string(dir.path().join("sbatch.log")).expect("sbatch log");
    let calls: Vec<&str> = calls.split("----\n").filter(|c| !c.is_empty()).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].contains("--array=0-15\n") && calls[0].ends_with("sweep.sbatch\n"));
    assert!(calls[0].contains("--partition=short\n"));
    assert!(calls[0].contains(",SHARDS=16"), "{}", calls[0]);
    assert!(
        calls[1].contains("--dependency=afterok:4242\n") && calls[1].ends_with("merge.sbatch\n")
    );
}

#[test]
fn the_binary_reads_the_shard_from_slurm_variables() {
    let dir = sweep_dir(400, 20, SWEEP);
    let out = dir.path().join("out");
    let run = Command::new(BIN)
        .args([
            "sweep",
            path(&dir.path().join("sweep.ron")),
            "--out",
            path(&out),
        ])
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "5")
        .env_remove("SLURM_ARRAY_TASK_MIN")
        .env_remove("SLURM_ARRAY_TASK_STEP")
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let cells: Vec<String> = complete_cells(&out).into_keys().collect();
    assert_eq!(cells, ["0003", "0008", "0013", "0018", "0023"]);

    // --dry-run lists the same cells and runs nothing.
    let listed = dealersim(&[
        "sweep",
        path(&dir.path().join("sweep.ron")),
        "--out",
        path(&dir.path().join("none")),
        "--shard",
        "3/5",
        "--dry-run",
    ]);
    assert!(listed.status.success());
    let stdout = String::from_utf8_lossy(&listed.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "24 cells (6 grid points x 4 seeds); shard 3/5 has 5"
    );
    let ids: Vec<&str> = lines[2..]
        .iter()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(ids, cells);
    // Cell 3 is point 0, replication 3; cell 8 is point 2 (tier_penalty 1e-5, σ 0.1).
    assert!(lines[2].starts_with("0003\t3\t") && lines[2].ends_with("\t0.0\t0.1"));
    assert!(lines[3].starts_with("0008\t0\t") && lines[3].ends_with("\t0.00001\t0.1"));
    assert!(!dir.path().join("none").exists());
}
