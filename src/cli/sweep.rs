//! `dealersim sweep` and `dealersim merge`: one shard of a sweep, and the merge of its
//! cells (see `dealersim::sweep` for the model of cells and shards).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use dealersim::sim::resources::Limits;
use dealersim::sweep::{Shard, Sweep, SweepError, merge, run_shard};

use super::super::{
    EXIT_BAD_SCENARIO, EXIT_RUN_FAILED, EXIT_USAGE, FormatArg, Signals, progress_bar,
};

/// Runs one shard (`--shard`, else the Slurm array task's, else the whole sweep).
pub fn sweep(
    file: &Path,
    shard: Option<String>,
    out: Option<PathBuf>,
    resume: bool,
    dry_run: bool,
    max_memory: Option<u64>,
    quiet: bool,
) -> ExitCode {
    let shard = match shard {
        Some(text) => Shard::parse(&text),
        None => Shard::from_slurm(|name| std::env::var(name).ok()).map(|s| s.unwrap_or(Shard::ALL)),
    };
    let shard = match shard {
        Ok(shard) => shard,
        Err(message) => {
            errln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let out = out.unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned());
        Path::new("out").join("sweeps").join(stem)
    });
    let limits = Limits::for_run(&out, max_memory);
    let sweep = match Sweep::load(file, &limits) {
        Ok(sweep) => sweep,
        Err(error) => {
            errln!("error: {error}");
            errln!("nothing was run");
            return ExitCode::from(EXIT_BAD_SCENARIO);
        }
    };
    let mine = (0..sweep.cell_count()).filter(|&i| shard.owns(i)).count() as u64;
    if dry_run {
        print_cells(&sweep, shard, mine);
        return ExitCode::SUCCESS;
    }
    let bar = progress_bar(mine, quiet, "cell");
    let signals = Signals::install();
    let report = |done| bar.set_position(done);
    let progress = dealersim::experiments::Progress::new(&report).with_stop(&signals.stop);
    let started = Instant::now();
    let result = run_shard(&sweep, shard, &out, resume, &limits, &progress);
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if !quiet {
                outln!(
                    "shard {shard}: {} of the sweep's {} cells; ran {}, skipped {} already complete, in {:.2} s -> {}",
                    report.cells,
                    sweep.cell_count(),
                    report.ran.len(),
                    report.skipped.len(),
                    started.elapsed().as_secs_f64(),
                    out.join("cells").display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(SweepError::Interrupted { completed }) => {
            errln!(
                "interrupted: {completed} cell{} of shard {shard} completed and kept in {}; the cell under way was abandoned; --resume continues",
                if completed == 1 { "" } else { "s" },
                out.display()
            );
            ExitCode::from(signals.exit_status())
        }
        Err(error @ SweepError::OutputDir(_)) => {
            errln!("error: {error}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(error) => {
            errln!("error: {error}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// Merges the cells found in `dirs` into `out`.
pub fn merge_dirs(
    dirs: &[PathBuf],
    out: &Path,
    format: Option<FormatArg>,
    quiet: bool,
) -> ExitCode {
    let format = FormatArg::table_format(format);
    match merge(dirs, out, format) {
        Ok(report) => {
            if !quiet {
                for (path, rows) in &report.tables {
                    outln!("{}: {rows} rows", path.display());
                }
                outln!("merged {} cells into {}", report.cells, out.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            errln!("error: {error}");
            errln!("nothing was written to {}", out.display());
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// The shard's cells, one a line (tab-separated after a one-line count): what
/// `--dry-run` shows, to size a cluster job before submitting it.
fn print_cells(sweep: &Sweep, shard: Shard, mine: u64) {
    outln!(
        "{} cells ({} grid point{} x {} seed{}); shard {shard} has {mine}",
        sweep.cell_count(),
        sweep.point_count(),
        if sweep.point_count() == 1 { "" } else { "s" },
        sweep.seeds(),
        if sweep.seeds() == 1 { "" } else { "s" },
    );
    // Tab-separated, so that it can be cut, sorted or counted.
    let mut header = vec!["cell".to_owned(), "seed_index".into(), "seed".into()];
    header.extend(sweep.axes().iter().map(|a| a.path.to_string()));
    outln!("{}", header.join("\t"));
    for index in (0..sweep.cell_count()).filter(|&i| shard.owns(i)) {
        let cell = sweep.cell(index);
        let mut row = vec![
            sweep.cell_id(index),
            cell.seed_index.to_string(),
            cell.seed.to_string(),
        ];
        row.extend(sweep.values_of(&cell).map(|(_, v)| v.to_string()));
        outln!("{}", row.join("\t"));
    }
}
