//! Columnar tables streamed to Parquet or CSV, each staged through a [`StagedOutput`].
//!
//! A run opens a [`StagedOutput`] on its output directory, streams each table through a
//! [`TableWriter`] and registers the [`FinishedTable`]s with the stage (see `staging.rs`
//! for the atomic commit). Dropping an unfinished table deletes its temporary.
//!
//! Parquet files are written with the low-level `parquet` API: rows are buffered column-wise
//! and flushed as one row group every [`ROW_GROUP_ROWS`] rows, so memory stays bounded however
//! long the table is. The file metadata carries a fixed `created_by` ([`PARQUET_CREATED_BY`])
//! and nothing time- or host-dependent, so identical rows give byte-identical files.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use tempfile::TempPath;

pub use super::error::OutputError;
use super::memory::MemoryTable;
pub use super::staging::StagedOutput;
use super::staging::{io_error, validate_name};

/// Rows buffered per Parquet row group before it is written out.
///
/// Large enough for good compression and fast scans, small enough that a wide table's buffers
/// stay in the tens of megabytes.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// The `created_by` string stored in every Parquet footer.
///
/// Deliberately fixed (no crate or library version) so that identical runs produce
/// byte-identical files across rebuilds.
pub const PARQUET_CREATED_BY: &str = "dealersim";

/// Capacity of the CSV writer's internal buffer; the `csv` crate buffers itself, so the file
/// is not wrapped in a second `BufWriter`.
const CSV_BUFFER_BYTES: usize = 256 * 1024;

/// The on-disk format of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Apache Parquet, Snappy-compressed, one row group per [`ROW_GROUP_ROWS`] rows.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
}

impl TableFormat {
    /// The file extension for this format, without the dot (`"parquet"` or `"csv"`).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
        }
    }
}

/// The type of a column's values.
///
/// In Parquet, every column is `REQUIRED`; unsigned integers carry the unsigned integer logical
/// type so that readers (pyarrow, polars) see `uint32`/`uint64` rather than signed values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// `u32`, stored as `INT32` with logical type `INTEGER(32, unsigned)` (`UINT_32`).
    U32,
    /// `u64`, stored as `INT64` with logical type `INTEGER(64, unsigned)` (`UINT_64`).
    U64,
    /// `i64`, stored as plain `INT64`.
    I64,
    /// `f64`, stored as `DOUBLE`.
    F64,
    /// `bool`, stored as `BOOLEAN`.
    Bool,
    /// UTF-8 text, stored as `BYTE_ARRAY` with logical type `STRING` (`UTF8`).
    Utf8,
}

impl ColumnType {
    /// A short lowercase name for messages and documentation (`"u32"`, `"string"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::U32 => "u32",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F64 => "f64",
            Self::Bool => "bool",
            Self::Utf8 => "string",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A column of a table: name, type and a one-line description (used in docs).
///
/// Declared tables name their columns with string literals; a table whose columns are
/// known only at run time (a sweep's merged results, one column per swept field) owns
/// its names, hence the `Cow`.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Column name as it appears in the Parquet schema and the CSV header.
    pub name: Cow<'static, str>,
    /// Type of every value in the column.
    pub ty: ColumnType,
    /// One-line description for generated documentation; not written to the files.
    pub doc: &'static str,
}

/// One cell of a row.
#[derive(Clone, Copy, Debug)]
pub enum Cell<'a> {
    /// A value for a [`ColumnType::U32`] column.
    U32(u32),
    /// A value for a [`ColumnType::U64`] column.
    U64(u64),
    /// A value for a [`ColumnType::I64`] column.
    I64(i64),
    /// A value for a [`ColumnType::F64`] column.
    F64(f64),
    /// A value for a [`ColumnType::Bool`] column.
    Bool(bool),
    /// A value for a [`ColumnType::Utf8`] column.
    Str(&'a str),
}

impl Cell<'_> {
    /// The column type this cell belongs in.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Self::U32(_) => ColumnType::U32,
            Self::U64(_) => ColumnType::U64,
            Self::I64(_) => ColumnType::I64,
            Self::F64(_) => ColumnType::F64,
            Self::Bool(_) => ColumnType::Bool,
            Self::Str(_) => ColumnType::Utf8,
        }
    }
}

impl From<u32> for Cell<'_> {
    fn from(v: u32) -> Self {
        Self::U32(v)
    }
}

impl From<u64> for Cell<'_> {
    fn from(v: u64) -> Self {
        Self::U64(v)
    }
}

impl From<i64> for Cell<'_> {
    fn from(v: i64) -> Self {
        Self::I64(v)
    }
}

impl From<f64> for Cell<'_> {
    fn from(v: f64) -> Self {
        Self::F64(v)
    }
}

impl From<bool> for Cell<'_> {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(v: &'a str) -> Self {
        Self::Str(v)
    }
}

/// Tables are staged like any other file: [`StagedOutput::table`] opens one under a
/// temporary name, and [`StagedOutput::add_table`] registers it for the commit.
impl StagedOutput {
    /// Opens a streaming table that will be committed as `dir/{stem}.{ext}`.
    ///
    /// # Errors
    ///
    /// [`OutputError::InvalidName`] if `stem` is not a plain file name,
    /// [`OutputError::Duplicate`] if that final name is already staged,
    /// [`OutputError::Schema`] if `columns` is empty or has empty or repeated names, and
    /// [`OutputError::Io`], [`OutputError::Parquet`] or [`OutputError::Csv`] if the temporary
    /// file cannot be created or its header written.
    pub fn table(
        &self,
        stem: &str,
        columns: impl Into<Cow<'static, [Column]>>,
        format: TableFormat,
    ) -> Result<TableWriter, OutputError> {
        self.table_with_row_group_rows(stem, columns.into(), format, ROW_GROUP_ROWS)
    }

    /// [`table`](Self::table) with a custom Parquet row-group size (tests use small groups to
    /// exercise several of them cheaply).
    pub(crate) fn table_with_row_group_rows(
        &self,
        stem: &str,
        columns: Cow<'static, [Column]>,
        format: TableFormat,
        row_group_rows: usize,
    ) -> Result<TableWriter, OutputError> {
        validate_name(stem)?;
        let file_name = format!("{stem}.{}", format.extension());
        validate_columns(&columns, &self.dir().join(&file_name))?;
        let (file, temp, final_path) = self.create_staged_file(&file_name)?;
        let sink = match format {
            TableFormat::Parquet => Sink::Parquet(
                ParquetSink::new(file, &columns, row_group_rows.max(1)).map_err(|error| {
                    OutputError::Parquet {
                        path: final_path.clone(),
                        error,
                    }
                })?,
            ),
            TableFormat::Csv => {
                Sink::Csv(
                    CsvSink::new(file, &columns).map_err(|error| OutputError::Csv {
                        path: final_path.clone(),
                        error,
                    })?,
                )
            }
        };
        Ok(TableWriter {
            sink,
            temp: Some(temp),
            final_path,
            format,
            columns,
            rows: 0,
            poisoned: false,
        })
    }

    /// Registers a finished table for commit.
    ///
    /// A table whose final name is already staged is accepted here and rejected by
    /// [`commit`](Self::commit).
    pub fn add_table(&mut self, finished: FinishedTable) {
        self.add_staged(finished.temp, finished.final_path);
    }
}

fn validate_columns(columns: &[Column], path: &Path) -> Result<(), OutputError> {
    let schema_error = |detail: String| OutputError::Schema {
        path: path.to_path_buf(),
        detail,
    };
    if columns.is_empty() {
        return Err(schema_error("a table needs at least one column".to_owned()));
    }
    for (i, column) in columns.iter().enumerate() {
        if column.name.is_empty() {
            return Err(schema_error(format!("column #{i} has an empty name")));
        }
        if columns[..i].iter().any(|c| c.name == column.name) {
            return Err(schema_error(format!(
                "column name `{}` is used twice",
                column.name
            )));
        }
    }
    Ok(())
}

/// A table being streamed to a temporary file.
///
/// Obtained from [`StagedOutput::table`]; turn it into a [`FinishedTable`] with
/// [`finish`](Self::finish). Dropping it unfinished deletes the temporary file.
pub struct TableWriter {
    // Declared before `temp` so the file is closed before the temporary is deleted.
    sink: Sink,
    // `None` for a table kept in memory.
    temp: Option<TempPath>,
    final_path: PathBuf,
    format: TableFormat,
    columns: Cow<'static, [Column]>,
    rows: u64,
    // Set after an I/O or encoder error, after which the file contents are unknown.
    poisoned: bool,
}

impl fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableWriter")
            .field("final_path", &self.final_path)
            .field("temp", &self.temp)
            .field("format", &self.format)
            .field("columns", &self.columns.len())
            .field("rows", &self.rows)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl TableWriter {
    /// Appends one row; cells must match the table's columns in number, order and type.
    ///
    /// # Errors
    ///
    /// [`OutputError::Schema`] if the row does not match the columns (nothing is written and
    /// the table stays usable); [`OutputError::Parquet`] or [`OutputError::Csv`] if writing
    /// fails, after which the table is poisoned and every later call returns
    /// [`OutputError::Poisoned`].
    pub fn write_row(&mut self, row: &[Cell<'_>]) -> Result<(), OutputError> {
        self.check_usable()?;
        self.check_row(row)?;
        let result = match &mut self.sink {
            Sink::Parquet(sink) => sink.push(row).map_err(|error| OutputError::Parquet {
                path: self.final_path.clone(),
                error,
            }),
            Sink::Csv(sink) => sink.write(row).map_err(|error| OutputError::Csv {
                path: self.final_path.clone(),
                error,
            }),
            Sink::Memory(table) => {
                table.push_checked(row);
                Ok(())
            }
        };
        if result.is_err() {
            self.poisoned = true;
        }
        result?;
        self.rows += 1;
        Ok(())
    }

    /// Number of rows accepted so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// The path the table will have once committed.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Flushes and closes the file; the temporary stays until commit.
    ///
    /// Writes the last Parquet row group and footer (or flushes the CSV buffer) and syncs the
    /// file to disk, so that commit only has to rename it.
    ///
    /// # Errors
    ///
    /// [`OutputError::Poisoned`] if an earlier write failed; [`OutputError::Parquet`],
    /// [`OutputError::Csv`] or [`OutputError::Io`] if flushing or syncing fails. The temporary
    /// is deleted in every error case.
    pub fn finish(mut self) -> Result<FinishedTable, OutputError> {
        self.check_usable()?;
        let path = &self.final_path;
        let file = match &mut self.sink {
            Sink::Memory(_) => {
                return Err(OutputError::Schema {
                    path: path.clone(),
                    detail: "internal error: a table kept in memory has no file to finish"
                        .to_owned(),
                });
            }
            Sink::Parquet(sink) => {
                sink.finish().map_err(|error| OutputError::Parquet {
                    path: path.clone(),
                    error,
                })?;
                sink.writer.inner()
            }
            Sink::Csv(sink) => {
                sink.writer.flush().map_err(|e| OutputError::Csv {
                    path: path.clone(),
                    error: e.into(),
                })?;
                sink.writer.get_ref()
            }
        };
        file.sync_all()
            .map_err(|e| io_error("sync table file", path, e))?;
        let Self {
            sink,
            temp,
            final_path,
            rows,
            ..
        } = self;
        drop(sink);
        let temp = temp.ok_or_else(|| OutputError::Schema {
            path: final_path.clone(),
            detail: "internal error: a file-backed table lost its temporary".to_owned(),
        })?;
        Ok(FinishedTable {
            temp,
            final_path,
            rows,
        })
    }

    /// A table that keeps its rows in memory instead of a file: it takes rows exactly as a
    /// file-backed one does (same checks), and [`into_memory`](Self::into_memory) gives
    /// them back as columns.
    ///
    /// # Errors
    /// [`OutputError::Schema`] if `columns` is empty or has empty or repeated names.
    pub fn in_memory(
        name: &str,
        columns: impl Into<Cow<'static, [Column]>>,
    ) -> Result<Self, OutputError> {
        let columns = columns.into();
        let final_path = PathBuf::from(name);
        validate_columns(&columns, &final_path)?;
        Ok(Self {
            sink: Sink::Memory(MemoryTable::new(name, columns.clone())),
            temp: None,
            final_path,
            format: TableFormat::Parquet,
            columns,
            rows: 0,
            poisoned: false,
        })
    }

    /// Whether this table keeps its rows in memory.
    pub fn is_in_memory(&self) -> bool {
        matches!(self.sink, Sink::Memory(_))
    }

    /// The rows of a table opened [`in_memory`](Self::in_memory).
    ///
    /// # Errors
    /// [`OutputError::Poisoned`] after a failed write; [`OutputError::Schema`] for a
    /// file-backed table (finish that one with [`finish`](Self::finish)).
    pub fn into_memory(self) -> Result<MemoryTable, OutputError> {
        self.check_usable()?;
        match self.sink {
            Sink::Memory(table) => Ok(table),
            Sink::Parquet(_) | Sink::Csv(_) => Err(OutputError::Schema {
                path: self.final_path.clone(),
                detail: "internal error: a table with a file is not kept in memory".to_owned(),
            }),
        }
    }

    fn check_usable(&self) -> Result<(), OutputError> {
        if self.poisoned {
            return Err(OutputError::Poisoned {
                path: self.final_path.clone(),
            });
        }
        Ok(())
    }

    // Validating the whole row before touching any buffer keeps columns the same length.
    fn check_row(&self, row: &[Cell<'_>]) -> Result<(), OutputError> {
        if row.len() != self.columns.len() {
            return Err(OutputError::Schema {
                path: self.final_path.clone(),
                detail: format!(
                    "row has {} cells but the table has {} columns",
                    row.len(),
                    self.columns.len()
                ),
            });
        }
        for (i, (cell, column)) in row.iter().zip(self.columns.iter()).enumerate() {
            if cell.column_type() != column.ty {
                return Err(OutputError::Schema {
                    path: self.final_path.clone(),
                    detail: format!(
                        "column `{}` (#{i}) holds {} but the cell is {}",
                        column.name,
                        column.ty,
                        cell.column_type()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// A table whose file is complete but still under its temporary name.
///
/// Hand it to [`StagedOutput::add_table`]; dropping it instead deletes the file.
#[derive(Debug)]
pub struct FinishedTable {
    temp: TempPath,
    final_path: PathBuf,
    rows: u64,
}

impl FinishedTable {
    /// The path the table will have once committed.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Number of data rows in the table (the CSV header not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

enum Sink {
    Parquet(ParquetSink),
    Csv(CsvSink),
    Memory(MemoryTable),
}

struct ParquetSink {
    // SerializedFileWriter wraps the file in its own BufWriter.
    writer: SerializedFileWriter<File>,
    buffers: Vec<ColumnBuffer>,
    buffered_rows: usize,
    row_group_rows: usize,
}

impl ParquetSink {
    fn new(file: File, columns: &[Column], row_group_rows: usize) -> Result<Self, ParquetError> {
        let props = WriterProperties::builder()
            // Pinned rather than defaulted so a library upgrade cannot silently change bytes.
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::SNAPPY)
            .set_created_by(PARQUET_CREATED_BY.to_owned())
            .build();
        let writer = SerializedFileWriter::new(file, parquet_schema(columns)?, Arc::new(props))?;
        let buffers = columns
            .iter()
            .map(|c| ColumnBuffer::new(c.ty, row_group_rows))
            .collect();
        Ok(Self {
            writer,
            buffers,
            buffered_rows: 0,
            row_group_rows,
        })
    }

    fn push(&mut self, row: &[Cell<'_>]) -> Result<(), ParquetError> {
        for (buffer, cell) in self.buffers.iter_mut().zip(row) {
            if !buffer.push(*cell) {
                return Err(ParquetError::General(format!(
                    "internal error: a {} cell reached a buffer of another type",
                    cell.column_type()
                )));
            }
        }
        self.buffered_rows += 1;
        if self.buffered_rows >= self.row_group_rows {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn flush_row_group(&mut self) -> Result<(), ParquetError> {
        let mut row_group = self.writer.next_row_group()?;
        for buffer in &mut self.buffers {
            let mut column = row_group.next_column()?.ok_or_else(|| {
                ParquetError::General(
                    "internal error: schema has fewer columns than buffers".into(),
                )
            })?;
            buffer.write_to(column.untyped())?;
            column.close()?;
        }
        row_group.close()?;
        self.buffered_rows = 0;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ParquetError> {
        if self.buffered_rows > 0 {
            self.flush_row_group()?;
        }
        self.writer.finish()?;
        Ok(())
    }
}

fn parquet_schema(columns: &[Column]) -> Result<Arc<Type>, ParquetError> {
    let fields = columns
        .iter()
        .map(|column| {
            let (physical, logical) = match column.ty {
                ColumnType::U32 => (PhysicalType::INT32, Some(LogicalType::integer(32, false))),
                ColumnType::U64 => (PhysicalType::INT64, Some(LogicalType::integer(64, false))),
                ColumnType::I64 => (PhysicalType::INT64, None),
                ColumnType::F64 => (PhysicalType::DOUBLE, None),
                ColumnType::Bool => (PhysicalType::BOOLEAN, None),
                ColumnType::Utf8 => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
            };
            // The builder derives the legacy converted type (UINT_32, UTF8, ...) from the
            // logical type, which older readers rely on.
            Type::primitive_type_builder(&column.name, physical)
                .with_repetition(Repetition::REQUIRED)
                .with_logical_type(logical)
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
        .map(Arc::new)
}

/// One column's values for the row group being assembled, in Parquet's physical types.
enum ColumnBuffer {
    // Unsigned values are stored as their bit patterns, as the unsigned logical types require.
    U32(Vec<i32>),
    U64(Vec<i64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    // One contiguous byte buffer instead of a String per cell; sliced without copying at flush.
    Utf8 { bytes: Vec<u8>, ends: Vec<usize> },
}

impl ColumnBuffer {
    fn new(ty: ColumnType, rows: usize) -> Self {
        match ty {
            ColumnType::U32 => Self::U32(Vec::with_capacity(rows)),
            ColumnType::U64 => Self::U64(Vec::with_capacity(rows)),
            ColumnType::I64 => Self::I64(Vec::with_capacity(rows)),
            ColumnType::F64 => Self::F64(Vec::with_capacity(rows)),
            ColumnType::Bool => Self::Bool(Vec::with_capacity(rows)),
            ColumnType::Utf8 => Self::Utf8 {
                bytes: Vec::new(),
                ends: Vec::with_capacity(rows),
            },
        }
    }

    /// Appends `cell`; returns false (and appends nothing) if its type does not match.
    fn push(&mut self, cell: Cell<'_>) -> bool {
        match (self, cell) {
            (Self::U32(v), Cell::U32(x)) => v.push(x.cast_signed()),
            (Self::U64(v), Cell::U64(x)) => v.push(x.cast_signed()),
            (Self::I64(v), Cell::I64(x)) => v.push(x),
            (Self::F64(v), Cell::F64(x)) => v.push(x),
            (Self::Bool(v), Cell::Bool(x)) => v.push(x),
            (Self::Utf8 { bytes, ends }, Cell::Str(s)) => {
                bytes.extend_from_slice(s.as_bytes());
                ends.push(bytes.len());
            }
            _ => return false,
        }
        true
    }

    /// Writes the buffered values as one column chunk and empties the buffer.
    fn write_to(&mut self, writer: &mut ColumnWriter<'_>) -> Result<(), ParquetError> {
        match (self, writer) {
            (Self::U32(v), ColumnWriter::Int32ColumnWriter(w)) => {
                w.write_batch(v, None, None)?;
                v.clear();
            }
            (Self::U64(v) | Self::I64(v), ColumnWriter::Int64ColumnWriter(w)) => {
                w.write_batch(v, None, None)?;
                v.clear();
            }
            (Self::F64(v), ColumnWriter::DoubleColumnWriter(w)) => {
                w.write_batch(v, None, None)?;
                v.clear();
            }
            (Self::Bool(v), ColumnWriter::BoolColumnWriter(w)) => {
                w.write_batch(v, None, None)?;
                v.clear();
            }
            (Self::Utf8 { bytes, ends }, ColumnWriter::ByteArrayColumnWriter(w)) => {
                let capacity = bytes.len();
                let all = ByteArray::from(std::mem::replace(bytes, Vec::with_capacity(capacity)));
                let mut start = 0;
                let values: Vec<ByteArray> = ends
                    .iter()
                    .map(|&end| {
                        let value = all.slice(start, end - start);
                        start = end;
                        value
                    })
                    .collect();
                w.write_batch(&values, None, None)?;
                ends.clear();
            }
            _ => {
                return Err(ParquetError::General(
                    "internal error: column writer type does not match the column buffer".into(),
                ));
            }
        }
        Ok(())
    }
}

struct CsvSink {
    writer: csv::Writer<File>,
    // Reused for formatting numbers so a row costs no allocation.
    scratch: String,
}

impl CsvSink {
    fn new(file: File, columns: &[Column]) -> Result<Self, csv::Error> {
        let mut writer = csv::WriterBuilder::new()
            .buffer_capacity(CSV_BUFFER_BYTES)
            .from_writer(file);
        writer.write_record(columns.iter().map(|c| c.name.as_ref()))?;
        Ok(Self {
            writer,
            scratch: String::new(),
        })
    }

    fn write(&mut self, row: &[Cell<'_>]) -> Result<(), csv::Error> {
        for cell in row {
            match *cell {
                Cell::Str(s) => self.writer.write_field(s)?,
                Cell::Bool(b) => self.writer.write_field(if b { "true" } else { "false" })?,
                number => {
                    self.scratch.clear();
                    // Writing to a String cannot fail.
                    let _ = match number {
                        Cell::U32(x) => write!(self.scratch, "{x}"),
                        Cell::U64(x) => write!(self.scratch, "{x}"),
                        Cell::I64(x) => write!(self.scratch, "{x}"),
                        // `{:?}` is the same shortest round-trip digits as `{}`, but keeps a
                        // `.0` on whole numbers (so readers infer a float column) and uses an
                        // exponent for very large or small magnitudes (`1e-300`, not 300 zeros).
                        Cell::F64(x) => write!(self.scratch, "{x:?}"),
                        Cell::Str(_) | Cell::Bool(_) => Ok(()),
                    };
                    self.writer.write_field(&self.scratch)?;
                }
            }
        }
        self.writer.write_record(None::<&[u8]>)
    }
}

// Writers and errors live in ECS resources, which must be Send + Sync.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TableWriter>();
    assert_send_sync::<FinishedTable>();
    assert_send_sync::<StagedOutput>();
    assert_send_sync::<OutputError>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::basic::ConvertedType;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;
    use std::fs;

    const ALL_TYPES: &[Column] = &[
        Column {
            name: Cow::Borrowed("id"),
            ty: ColumnType::U32,
            doc: "row id",
        },
        Column {
            name: Cow::Borrowed("big"),
            ty: ColumnType::U64,
            doc: "large unsigned",
        },
        Column {
            name: Cow::Borrowed("delta"),
            ty: ColumnType::I64,
            doc: "signed",
        },
        Column {
            name: Cow::Borrowed("price"),
            ty: ColumnType::F64,
            doc: "a float",
        },
        Column {
            name: Cow::Borrowed("flag"),
            ty: ColumnType::Bool,
            doc: "a bool",
        },
        Column {
            name: Cow::Borrowed("name"),
            ty: ColumnType::Utf8,
            doc: "a string",
        },
    ];

    struct Row {
        id: u32,
        big: u64,
        delta: i64,
        price: f64,
        flag: bool,
        name: String,
    }

    fn sample_rows(n: u32) -> Vec<Row> {
        (0..n)
            .map(|i| Row {
                // Extremes exercise the unsigned bit-pattern storage.
                id: if i % 7 == 0 { u32::MAX - i } else { i },
                big: if i % 5 == 0 {
                    u64::MAX - u64::from(i)
                } else {
                    u64::from(i) * 1_000_003
                },
                delta: if i % 11 == 0 {
                    i64::MIN + i64::from(i)
                } else {
                    -i64::from(i)
                },
                price: match i % 4 {
                    0 => f64::from(i) * 0.1,
                    1 => -0.0,
                    2 => 1e-300 * f64::from(i),
                    _ => f64::MAX / f64::from(i),
                },
                flag: i % 3 == 0,
                name: match i % 3 {
                    0 => String::new(),
                    1 => format!("trader-{i}"),
                    _ => format!("ünïcødé, \"{i}\""),
                },
            })
            .collect()
    }

    fn cells(row: &Row) -> [Cell<'_>; 6] {
        [
            Cell::U32(row.id),
            Cell::U64(row.big),
            Cell::I64(row.delta),
            Cell::F64(row.price),
            Cell::Bool(row.flag),
            Cell::Str(&row.name),
        ]
    }

    fn write_table(
        out: &StagedOutput,
        stem: &str,
        format: TableFormat,
        rows: &[Row],
        row_group_rows: usize,
    ) -> FinishedTable {
        let mut table = out
            .table_with_row_group_rows(stem, ALL_TYPES.into(), format, row_group_rows)
            .expect("open table");
        for row in rows {
            table.write_row(&cells(row)).expect("write row");
        }
        assert_eq!(table.rows_written(), rows.len() as u64);
        table.finish().expect("finish table")
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn parquet_round_trip_all_types_over_several_row_groups() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        let rows = sample_rows(3_000);
        let finished = write_table(&out, "all", TableFormat::Parquet, &rows, 512);
        assert_eq!(finished.rows(), 3_000);
        out.add_table(finished);
        let paths = out.commit().expect("commit");
        assert_eq!(paths, vec![tmp.path().join("all.parquet")]);

        let reader = SerializedFileReader::new(File::open(&paths[0]).expect("open")).expect("read");
        let meta = reader.metadata();
        assert_eq!(meta.num_row_groups(), 6, "3000 rows / 512 per group");
        assert_eq!(meta.file_metadata().num_rows(), 3_000);
        assert_eq!(meta.file_metadata().created_by(), Some(PARQUET_CREATED_BY));
        for rg in meta.row_groups() {
            for col in rg.columns() {
                assert_eq!(col.compression(), Compression::SNAPPY);
            }
        }

        let schema = meta.file_metadata().schema_descr();
        let expected = [
            (
                PhysicalType::INT32,
                Some(LogicalType::integer(32, false)),
                ConvertedType::UINT_32,
            ),
            (
                PhysicalType::INT64,
                Some(LogicalType::integer(64, false)),
                ConvertedType::UINT_64,
            ),
            (PhysicalType::INT64, None, ConvertedType::NONE),
            (PhysicalType::DOUBLE, None, ConvertedType::NONE),
            (PhysicalType::BOOLEAN, None, ConvertedType::NONE),
            (
                PhysicalType::BYTE_ARRAY,
                Some(LogicalType::String),
                ConvertedType::UTF8,
            ),
        ];
        assert_eq!(schema.num_columns(), expected.len());
        for (i, (physical, logical, converted)) in expected.iter().enumerate() {
            let col = schema.column(i);
            assert_eq!(col.name(), ALL_TYPES[i].name);
            assert_eq!(col.physical_type(), *physical, "column {i}");
            assert_eq!(col.logical_type_ref(), logical.as_ref(), "column {i}");
            assert_eq!(col.converted_type(), *converted, "column {i}");
            assert_eq!(
                col.self_type().get_basic_info().repetition(),
                Repetition::REQUIRED
            );
        }

        let mut n = 0;
        for (got, want) in reader.get_row_iter(None).expect("rows").zip(&rows) {
            let got = got.expect("row");
            assert_eq!(got.get_uint(0).expect("id"), want.id);
            assert_eq!(got.get_ulong(1).expect("big"), want.big);
            assert_eq!(got.get_long(2).expect("delta"), want.delta);
            assert_eq!(
                got.get_double(3).expect("price").to_bits(),
                want.price.to_bits()
            );
            assert_eq!(got.get_bool(4).expect("flag"), want.flag);
            assert_eq!(got.get_string(5).expect("name"), &want.name);
            n += 1;
        }
        assert_eq!(n, rows.len());
    }

    #[test]
    fn empty_tables_are_valid() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        let pq = write_table(&out, "empty", TableFormat::Parquet, &[], 16);
        let csv = write_table(&out, "empty", TableFormat::Csv, &[], 16);
        out.add_table(pq);
        out.add_table(csv);
        let paths = out.commit().expect("commit");

        let reader = SerializedFileReader::new(File::open(&paths[0]).expect("open")).expect("read");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
        assert_eq!(
            reader
                .metadata()
                .file_metadata()
                .schema_descr()
                .num_columns(),
            6
        );
        assert_eq!(
            fs::read_to_string(&paths[1]).expect("csv"),
            "id,big,delta,price,flag,name\n"
        );
    }

    #[test]
    fn csv_round_trip_is_exact() {
        const COLS: &[Column] = &[
            Column {
                name: Cow::Borrowed("label"),
                ty: ColumnType::Utf8,
                doc: "text",
            },
            Column {
                name: Cow::Borrowed("x"),
                ty: ColumnType::F64,
                doc: "float",
            },
            Column {
                name: Cow::Borrowed("n"),
                ty: ColumnType::U64,
                doc: "count",
            },
            Column {
                name: Cow::Borrowed("ok"),
                ty: ColumnType::Bool,
                doc: "flag",
            },
        ];
        let labels = [
            "plain",
            "comma, and \"quote\"",
            "new\nline",
            "",
            "ünïcødé",
            "x",
            "y",
            "z",
            "w",
        ];
        let floats = [
            0.1,
            1e-300,
            -2.5e17,
            f64::MIN_POSITIVE,
            5e-324,
            1.0,
            -0.0,
            f64::MAX,
            123_456.789_012_345_67,
        ];

        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        let mut table = out.table("floats", COLS, TableFormat::Csv).expect("table");
        for (i, (label, x)) in labels.iter().zip(floats).enumerate() {
            let row = [
                Cell::Str(label),
                Cell::F64(x),
                Cell::U64(u64::MAX - i as u64),
                Cell::Bool(i % 2 == 0),
            ];
            table.write_row(&row).expect("write");
        }
        out.add_table(table.finish().expect("finish"));
        let paths = out.commit().expect("commit");
        assert_eq!(paths, vec![tmp.path().join("floats.csv")]);

        let text = fs::read_to_string(&paths[0]).expect("read");
        assert!(text.starts_with("label,x,n,ok\n"), "{text}");
        assert!(
            text.contains("\"comma, and \"\"quote\"\"\",1e-300,"),
            "{text}"
        );
        assert!(text.contains(",1.0,"), "{text}");
        assert!(text.contains(",-2.5e17,"), "{text}");

        let mut reader = csv::Reader::from_path(&paths[0]).expect("reader");
        let header = reader.headers().expect("headers").clone();
        assert_eq!(header.iter().collect::<Vec<_>>(), ["label", "x", "n", "ok"]);
        let mut n = 0;
        for (i, record) in reader.records().enumerate() {
            let record = record.expect("record");
            assert_eq!(&record[0], labels[i]);
            let x: f64 = record[1].parse().expect("float");
            assert_eq!(x.to_bits(), floats[i].to_bits(), "row {i}: {}", &record[1]);
            assert_eq!(record[2].parse::<u64>().expect("u64"), u64::MAX - i as u64);
            assert_eq!(record[3].parse::<bool>().expect("bool"), i % 2 == 0);
            n += 1;
        }
        assert_eq!(n, labels.len());
    }

    #[test]
    fn nothing_final_before_commit_and_no_temporaries_after() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("nested").join("run1");
        let mut out = StagedOutput::create(&dir).expect("create");
        assert_eq!(out.dir(), dir);
        let rows = sample_rows(100);

        let pq = write_table(&out, "metrics", TableFormat::Parquet, &rows, 32);
        let csv = write_table(&out, "trades", TableFormat::Csv, &rows, 32);
        assert_eq!(pq.final_path(), dir.join("metrics.parquet"));
        assert_eq!(csv.final_path(), dir.join("trades.csv"));
        out.add_table(pq);
        out.add_table(csv);
        out.add_file("manifest.json", b"{\"ok\":true}\n")
            .expect("add file");

        // The output directory holds no partial file; the staging beside it holds all three.
        assert!(dir_entries(&dir).is_empty(), "{:?}", dir_entries(&dir));
        let staging = out.staging_dir().to_path_buf();
        assert_eq!(staging.parent(), dir.parent());
        let before = dir_entries(&staging);
        assert_eq!(before.len(), 3, "{before:?}");
        for name in &before {
            assert!(name.starts_with('.') && name.contains(".tmp-"), "{name}");
        }

        let paths = out.commit().expect("commit");
        assert!(
            !staging.exists(),
            "the staging directory is removed after the commit"
        );
        assert_eq!(
            paths,
            vec![
                dir.join("metrics.parquet"),
                dir.join("trades.csv"),
                dir.join("manifest.json")
            ]
        );
        assert_eq!(
            dir_entries(&dir),
            ["manifest.json", "metrics.parquet", "trades.csv"]
        );
        assert_eq!(
            fs::read(dir.join("manifest.json")).expect("manifest"),
            b"{\"ok\":true}\n"
        );
    }

    /// `a/..` names `a`'s parent: the staging goes beside that directory, not inside it.
    #[test]
    fn a_dotted_path_is_staged_beside_the_directory_it_names() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let named = tmp.path().join("run");
        fs::create_dir_all(named.join("sub")).expect("mkdir");
        let out = StagedOutput::create(&named.join("sub").join("..")).expect("create");
        let staging = fs::canonicalize(out.staging_dir()).expect("staging exists");
        assert_eq!(
            staging.parent(),
            Some(fs::canonicalize(tmp.path()).expect("tmp").as_path())
        );
        assert!(
            staging
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".run.staging-")),
            "{}",
            staging.display()
        );
    }

    #[test]
    fn dropping_without_commit_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let rows = sample_rows(50);
        {
            let mut out = StagedOutput::create(tmp.path()).expect("create");
            let pq = write_table(&out, "a", TableFormat::Parquet, &rows, 8);
            out.add_table(pq);
            out.add_file("manifest.json", b"{}").expect("add file");
            // Unfinished writers and unregistered finished tables clean up too.
            let mut open = out.table("b", ALL_TYPES, TableFormat::Csv).expect("table");
            open.write_row(&cells(&rows[0])).expect("write");
            let orphan = write_table(&out, "c", TableFormat::Csv, &rows, 8);
            let staging = out.staging_dir().to_path_buf();
            assert_eq!(dir_entries(&staging).len(), 4);
            assert!(dir_entries(tmp.path()).is_empty());
            drop(open);
            drop(orphan);
            assert_eq!(dir_entries(&staging).len(), 2);
            drop(out);
            assert!(
                !staging.exists(),
                "dropping the stage removes its directory"
            );
        }
        assert!(dir_entries(tmp.path()).is_empty());

        let out = StagedOutput::create(tmp.path()).expect("create");
        let mut open = out
            .table("d", ALL_TYPES, TableFormat::Parquet)
            .expect("table");
        open.write_row(&cells(&rows[0])).expect("write");
        drop(open);
        drop(out);
        assert!(dir_entries(tmp.path()).is_empty());
    }

    #[test]
    fn schema_errors_are_returned_and_the_table_stays_usable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        let rows = sample_rows(3);
        for format in [TableFormat::Parquet, TableFormat::Csv] {
            let stem = format!("t_{}", format.extension());
            let mut table = out.table(&stem, ALL_TYPES, format).expect("table");
            table.write_row(&cells(&rows[0])).expect("write");

            let short = &cells(&rows[1])[..5];
            let err = table.write_row(short).expect_err("short row");
            assert!(matches!(err, OutputError::Schema { .. }), "{err}");
            assert!(err.to_string().contains("5 cells"), "{err}");

            let mut long = cells(&rows[1]).to_vec();
            long.push(Cell::Bool(true));
            assert!(matches!(
                table.write_row(&long),
                Err(OutputError::Schema { .. })
            ));

            let mut wrong = cells(&rows[1]);
            wrong[3] = Cell::Str("not a float");
            let err = table.write_row(&wrong).expect_err("wrong type");
            assert!(matches!(err, OutputError::Schema { .. }), "{err}");
            assert!(err.to_string().contains("`price`"), "{err}");

            table
                .write_row(&cells(&rows[2]))
                .expect("write after error");
            assert_eq!(table.rows_written(), 2);
            out.add_table(table.finish().expect("finish"));
        }
        let paths = out.commit().expect("commit");

        let reader = SerializedFileReader::new(File::open(&paths[0]).expect("open")).expect("read");
        let ids: Vec<u32> = reader
            .get_row_iter(None)
            .expect("rows")
            .map(|r| r.expect("row").get_uint(0).expect("id"))
            .collect();
        assert_eq!(ids, [rows[0].id, rows[2].id]);
        let csv_rows = csv::Reader::from_path(&paths[1])
            .expect("csv")
            .records()
            .count();
        assert_eq!(csv_rows, 2);
    }

    #[test]
    fn bad_table_definitions_and_names_are_rejected() {
        const EMPTY: &[Column] = &[];
        const TWICE: &[Column] = &[
            Column {
                name: Cow::Borrowed("a"),
                ty: ColumnType::U32,
                doc: "",
            },
            Column {
                name: Cow::Borrowed("a"),
                ty: ColumnType::F64,
                doc: "",
            },
        ];
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        assert!(matches!(
            out.table("x", EMPTY, TableFormat::Parquet),
            Err(OutputError::Schema { .. })
        ));
        assert!(matches!(
            out.table("x", TWICE, TableFormat::Csv),
            Err(OutputError::Schema { .. })
        ));
        for bad in ["", "a/b", "..", ".hidden", "a\\b"] {
            assert!(
                matches!(
                    out.table(bad, ALL_TYPES, TableFormat::Csv),
                    Err(OutputError::InvalidName { .. })
                ),
                "{bad:?}"
            );
            assert!(matches!(
                out.add_file(bad, b""),
                Err(OutputError::InvalidName { .. })
            ));
        }

        out.add_file("notes.csv", b"x").expect("add");
        assert!(matches!(
            out.add_file("notes.csv", b"y"),
            Err(OutputError::Duplicate { .. })
        ));
        assert!(matches!(
            out.table("notes", ALL_TYPES, TableFormat::Csv),
            Err(OutputError::Duplicate { .. })
        ));

        // Two writers opened before either is registered are caught at commit, before any
        // rename.
        let first = write_table(&out, "dup", TableFormat::Csv, &[], 8);
        let second = write_table(&out, "dup", TableFormat::Csv, &[], 8);
        out.add_table(first);
        out.add_table(second);
        let err = out.commit().expect_err("duplicate");
        assert!(matches!(err, OutputError::Duplicate { .. }), "{err}");
        assert!(dir_entries(tmp.path()).is_empty());
    }

    #[test]
    fn create_under_a_regular_file_fails_with_the_path() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("file.txt");
        fs::write(&file, b"not a dir").expect("write");

        let sub = file.join("sub");
        let err = StagedOutput::create(&sub).expect_err("under a file");
        let msg = err.to_string();
        assert!(matches!(err, OutputError::Io { .. }), "{msg}");
        assert!(
            msg.starts_with(&format!(
                "cannot create output directory `{}`: ",
                sub.display()
            )),
            "{msg}"
        );

        let err = StagedOutput::create(&file).expect_err("a file");
        assert!(err.to_string().contains("file.txt"), "{err}");
    }

    #[test]
    fn identical_rows_give_identical_parquet_bytes() {
        let rows = sample_rows(2_000);
        let mut files = Vec::new();
        for _ in 0..2 {
            let tmp = tempfile::tempdir().expect("tempdir");
            let mut out = StagedOutput::create(tmp.path()).expect("create");
            out.add_table(write_table(&out, "t", TableFormat::Parquet, &rows, 300));
            let paths = out.commit().expect("commit");
            files.push(fs::read(&paths[0]).expect("read"));
        }
        assert!(files[0] == files[1], "parquet output is not deterministic");
        let contains = |needle: &[u8]| files[0].windows(needle.len()).any(|w| w == needle);
        assert!(contains(PARQUET_CREATED_BY.as_bytes()));
        assert!(!contains(b"parquet-rs"), "default created_by leaked");
    }

    #[test]
    fn failed_commit_rolls_back_earlier_renames() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        out.add_file("a.json", b"a").expect("add a");
        out.add_file("b.json", b"b").expect("add b");
        out.add_file("c.json", b"c").expect("add c");
        // A non-empty directory under a final name makes that rename fail, even for root.
        let blocker = tmp.path().join("b.json");
        fs::create_dir(&blocker).expect("mkdir");
        fs::write(blocker.join("keep"), b"").expect("write");

        let err = out.commit().expect_err("rename onto a directory");
        assert!(matches!(err, OutputError::Io { .. }), "{err}");
        assert!(err.to_string().contains("b.json"), "{err}");
        assert_eq!(dir_entries(tmp.path()), ["b.json"]);
    }

    #[test]
    fn csv_single_empty_string_column_keeps_its_rows() {
        const ONE: &[Column] = &[Column {
            name: Cow::Borrowed("s"),
            ty: ColumnType::Utf8,
            doc: "text",
        }];
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        let mut table = out.table("one", ONE, TableFormat::Csv).expect("table");
        for s in ["", "a", ""] {
            table.write_row(&[Cell::Str(s)]).expect("write");
        }
        out.add_table(table.finish().expect("finish"));
        let paths = out.commit().expect("commit");
        // A bare empty line would be skipped by CSV readers, silently dropping the row.
        let values: Vec<String> = csv::Reader::from_path(&paths[0])
            .expect("reader")
            .records()
            .map(|r| r.expect("record")[0].to_owned())
            .collect();
        assert_eq!(values, ["", "a", ""]);
    }

    #[cfg(unix)]
    #[test]
    fn committed_files_get_the_usual_umask_mode() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = StagedOutput::create(tmp.path()).expect("create");
        out.add_file("manifest.json", b"{}").expect("add");
        let paths = out.commit().expect("commit");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        // tempfile's 0600 default must not leak through: compare with an ordinary new file.
        let plain = tmp.path().join("plain");
        File::create(&plain).expect("create plain");
        assert_eq!(mode(&paths[0]), mode(&plain));
    }
}
