//! Run outputs: typed tables declared by mechanisms and written by the core, the atomic
//! commit of a run's files, and the manifest.
//!
//! A mechanism declares each table as a [`row::TableRow`] type (name and typed columns,
//! see [`table_row!`](crate::table_row)). The core opens the declared tables in the run's
//! [`staging::StagedOutput`] and puts them in the [`Recorder`] resource; the mechanism's
//! `Record`-phase systems hand it rows; the core finishes and commits the files.

pub mod error;
pub mod manifest;
pub mod memory;
pub mod row;
pub mod staging;
pub mod table;

use bevy_ecs::prelude::*;

use row::{TableRow, TableSpec};
use table::{OutputError, TableWriter};

/// Runs `write`, which stages and commits files into `out_dir`; if it fails and
/// `out_dir` did not exist before, the (by then empty) directory is removed too, so a
/// failed run leaves no trace. `remove_dir` only removes an empty directory, so nothing
/// else can be lost.
///
/// # Errors
/// Whatever `write` returns.
pub fn leave_nothing_on_error<T, E>(
    out_dir: &std::path::Path,
    write: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let existed = out_dir.exists();
    let result = write();
    if result.is_err() && !existed {
        let _ = std::fs::remove_dir(out_dir);
    }
    result
}

/// A table a mechanism can write, and whether this run writes it.
#[derive(Clone, Copy, Debug)]
pub struct DeclaredTable {
    /// Name and columns.
    pub spec: TableSpec,
    /// Whether the scenario asks for it (e.g. per-trade tables only with `trades: true`).
    pub written: bool,
}

impl DeclaredTable {
    /// The table of row type `R`, written when `written`.
    pub fn of<R: TableRow>(written: bool) -> Self {
        Self {
            spec: R::TABLE,
            written,
        }
    }
}

/// The open tables of a run. Mechanisms' `Record` systems write rows with
/// [`Recorder::write`]; a table the run does not write takes no rows (and
/// [`Recorder::is_open`] lets a system skip building them).
#[derive(Resource, Default)]
pub struct Recorder {
    tables: Vec<(&'static str, TableWriter)>,
    /// The first write error; once set, nothing more is written and the run stops.
    error: Option<OutputError>,
}

impl Recorder {
    /// Adds an open table; rows of its type go to it from now on.
    pub fn open(&mut self, name: &'static str, writer: TableWriter) {
        self.tables.push((name, writer));
    }

    /// Whether the table `spec` is being written.
    pub fn is_open(&self, spec: &TableSpec) -> bool {
        self.tables.iter().any(|(name, _)| *name == spec.name)
    }

    /// Writes `row` to its table if the run writes that table. The first error is kept
    /// (see [`Recorder::take_error`]) and every later row is dropped.
    pub fn write<R: TableRow>(&mut self, row: &R) {
        if self.error.is_some() {
            return;
        }
        if let Some((_, table)) = self.tables.iter_mut().find(|(n, _)| *n == R::TABLE.name)
            && let Err(error) = row.write_to(table)
        {
            self.error = Some(error);
        }
    }

    /// The table writer for `spec`, to write many rows of one type without a look-up
    /// each (`None` when the run does not write it, or after an error).
    pub fn writer(&mut self, spec: &TableSpec) -> Option<RowSink<'_>> {
        if self.error.is_some() {
            return None;
        }
        let Recorder { tables, error } = self;
        let (name, table) = tables.iter_mut().find(|(n, _)| *n == spec.name)?;
        Some(RowSink { name, table, error })
    }

    /// The first write error, if any (taken: the driver stops the run with it).
    pub fn take_error(&mut self) -> Option<OutputError> {
        self.error.take()
    }

    /// The open tables, in opening order (to finish them after the run).
    pub fn into_tables(self) -> Result<Vec<TableWriter>, OutputError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.tables.into_iter().map(|(_, t)| t).collect()),
        }
    }
}

/// One open table, borrowed from the [`Recorder`] to write a batch of rows.
pub struct RowSink<'a> {
    name: &'static str,
    table: &'a mut TableWriter,
    error: &'a mut Option<OutputError>,
}

impl RowSink<'_> {
    /// Writes `row`; after the first error (kept in the recorder) rows are dropped.
    pub fn write<R: TableRow>(&mut self, row: &R) {
        debug_assert_eq!(R::TABLE.name, self.name, "a row written to another table");
        if self.error.is_none()
            && let Err(error) = row.write_to(self.table)
        {
            *self.error = Some(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use staging::StagedOutput;
    use table::TableFormat;

    crate::table_row! {
        /// A row for the tests.
        struct Sample in "sample" {
            tick: u32 => "tick",
        }
    }

    crate::table_row! {
        /// A row of a table the tests never open.
        struct Other in "other" {
            value: f64 => "value",
        }
    }

    #[test]
    fn rows_go_to_their_own_table_and_a_closed_table_takes_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staged = StagedOutput::create(dir.path()).expect("stage");
        let spec = Sample::TABLE;
        let mut recorder = Recorder::default();
        recorder.open(
            spec.name,
            staged
                .table(spec.name, spec.columns, TableFormat::Csv)
                .expect("table"),
        );
        assert!(recorder.is_open(&Sample::TABLE) && !recorder.is_open(&Other::TABLE));
        recorder.write(&Sample { tick: 1 });
        recorder.write(&Other { value: 2.0 });
        if let Some(mut sink) = recorder.writer(&Sample::TABLE) {
            sink.write(&Sample { tick: 2 });
        }
        assert!(recorder.writer(&Other::TABLE).is_none());
        let tables = recorder.into_tables().expect("no error");
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].rows_written(), 2);
    }

    #[test]
    fn the_first_error_is_kept_and_stops_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staged = StagedOutput::create(dir.path()).expect("stage");
        let mut recorder = Recorder::default();
        // A table whose columns do not fit the row: the write is a schema error.
        recorder.open(
            Sample::TABLE.name,
            staged
                .table(Sample::TABLE.name, Other::TABLE.columns, TableFormat::Csv)
                .expect("table"),
        );
        recorder.write(&Sample { tick: 1 });
        assert!(
            recorder.writer(&Sample::TABLE).is_none(),
            "no writer after an error"
        );
        assert!(matches!(
            recorder.take_error(),
            Some(OutputError::Schema { .. })
        ));
        assert!(recorder.take_error().is_none());
    }
}
