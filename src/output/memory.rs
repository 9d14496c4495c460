//! Tables kept in memory, column by column, for callers that want the values rather than
//! files: the Python package hands them to Arrow without a copy of the numbers.
//!
//! A [`TableWriter::in_memory`](super::table::TableWriter::in_memory) takes the same rows
//! as a file-backed one and is finished into a [`MemoryTable`]; the run driver opens one
//! per declared table when it runs [`in memory`](crate::sim::run::run_in_memory).

use std::borrow::Cow;

use super::table::{Cell, Column, ColumnType};

/// The values of one column, in row order, in the column's own type.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    /// A [`ColumnType::U32`] column.
    U32(Vec<u32>),
    /// A [`ColumnType::U64`] column.
    U64(Vec<u64>),
    /// A [`ColumnType::I64`] column.
    I64(Vec<i64>),
    /// A [`ColumnType::F64`] column.
    F64(Vec<f64>),
    /// A [`ColumnType::Bool`] column.
    Bool(Vec<bool>),
    /// A [`ColumnType::Utf8`] column: every value's bytes one after the other, and where
    /// each value ends (value i is `bytes[ends[i-1]..ends[i]]`), as Arrow lays strings out.
    Utf8 {
        /// The UTF-8 bytes of all values, concatenated.
        bytes: Vec<u8>,
        /// The end offset of each value in `bytes`.
        ends: Vec<usize>,
    },
}

impl ColumnData {
    /// An empty column of type `ty`.
    pub fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::U32 => Self::U32(Vec::new()),
            ColumnType::U64 => Self::U64(Vec::new()),
            ColumnType::I64 => Self::I64(Vec::new()),
            ColumnType::F64 => Self::F64(Vec::new()),
            ColumnType::Bool => Self::Bool(Vec::new()),
            ColumnType::Utf8 => Self::Utf8 {
                bytes: Vec::new(),
                ends: Vec::new(),
            },
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Self::U32(v) => v.len(),
            Self::U64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::Utf8 { ends, .. } => ends.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `row` as a cell (`None` past the end).
    pub fn cell(&self, row: usize) -> Option<Cell<'_>> {
        Some(match self {
            Self::U32(v) => Cell::U32(*v.get(row)?),
            Self::U64(v) => Cell::U64(*v.get(row)?),
            Self::I64(v) => Cell::I64(*v.get(row)?),
            Self::F64(v) => Cell::F64(*v.get(row)?),
            Self::Bool(v) => Cell::Bool(*v.get(row)?),
            Self::Utf8 { bytes, ends } => {
                let end = *ends.get(row)?;
                let start = if row == 0 { 0 } else { ends[row - 1] };
                // Only whole `&str`s are ever pushed, so every slice is valid UTF-8.
                Cell::Str(std::str::from_utf8(&bytes[start..end]).unwrap_or_default())
            }
        })
    }

    /// Appends `cell`; false (nothing appended) if its type is not the column's.
    pub(crate) fn push(&mut self, cell: Cell<'_>) -> bool {
        match (self, cell) {
            (Self::U32(v), Cell::U32(x)) => v.push(x),
            (Self::U64(v), Cell::U64(x)) => v.push(x),
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
}

/// A finished table held in memory: its name (the file stem it would have), its columns
/// and their values.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryTable {
    /// The table's name, as in `docs/`: `metrics`, `trades`, `summary`, ...
    pub name: String,
    /// The columns, in order.
    pub columns: Cow<'static, [Column]>,
    /// One [`ColumnData`] per column, all of the same length.
    pub data: Vec<ColumnData>,
}

impl MemoryTable {
    /// An empty table.
    pub fn new(name: &str, columns: Cow<'static, [Column]>) -> Self {
        let data = columns.iter().map(|c| ColumnData::new(c.ty)).collect();
        Self {
            name: name.to_owned(),
            columns,
            data,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.first().map_or(0, ColumnData::len)
    }

    /// The values of the column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnData> {
        let index = self.columns.iter().position(|c| c.name == name)?;
        self.data.get(index)
    }

    /// Appends a row whose cells were checked against the columns.
    pub(crate) fn push_checked(&mut self, row: &[Cell<'_>]) {
        for (column, cell) in self.data.iter_mut().zip(row) {
            let pushed = column.push(*cell);
            debug_assert!(pushed, "a row reached the memory table unchecked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column {
            name: Cow::Borrowed("tick"),
            ty: ColumnType::U32,
            doc: "",
        },
        Column {
            name: Cow::Borrowed("label"),
            ty: ColumnType::Utf8,
            doc: "",
        },
    ];

    #[test]
    fn rows_come_back_as_they_went_in() {
        let mut table = MemoryTable::new("t", Cow::Borrowed(COLUMNS));
        table.push_checked(&[Cell::U32(7), Cell::Str("a")]);
        table.push_checked(&[Cell::U32(u32::MAX), Cell::Str("")]);
        table.push_checked(&[Cell::U32(0), Cell::Str("ünï")]);
        assert_eq!(table.rows(), 3);
        let labels = table.column("label").expect("label column");
        let read: Vec<String> = (0..3)
            .map(|r| match labels.cell(r) {
                Some(Cell::Str(s)) => s.to_owned(),
                other => panic!("not a string: {other:?}"),
            })
            .collect();
        assert_eq!(read, ["a", "", "ünï"]);
        assert_eq!(
            table.column("tick"),
            Some(&ColumnData::U32(vec![7, u32::MAX, 0]))
        );
        assert!(labels.cell(3).is_none() && table.column("nope").is_none());
    }

    #[test]
    fn a_cell_of_another_type_is_refused() {
        let mut column = ColumnData::new(ColumnType::F64);
        assert!(!column.push(Cell::U32(1)));
        assert!(column.is_empty());
    }
}
