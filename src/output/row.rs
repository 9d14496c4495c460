//! Typed rows: a table is declared once, as a struct whose fields are its columns, so a
//! row cannot put a value in the wrong column or of the wrong type.
//!
//! [`table_row!`](crate::table_row) writes the struct, its [`TableSpec`] (name, typed and
//! documented columns, in field order) and the [`TableRow`] impl that streams a row into
//! a [`TableWriter`] without allocating. Mechanisms declare their tables this way and the
//! core opens, writes and commits them (see [`Recorder`](super::Recorder)).

use super::table::{Cell, Column, ColumnType, OutputError, TableWriter};

/// A table's name (the file stem: `metrics` → `metrics.parquet`) and its columns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableSpec {
    /// File stem, unique within a run.
    pub name: &'static str,
    /// Columns in file order.
    pub columns: &'static [Column],
}

/// A Rust type that fills one column.
pub trait ColumnValue {
    /// The column type it fills.
    const TYPE: ColumnType;
    /// The value as a cell.
    fn cell(&self) -> Cell<'_>;
    /// The value as an owned cell (for summaries kept after the run).
    fn owned(&self) -> OwnedCell;
}

impl ColumnValue for u32 {
    const TYPE: ColumnType = ColumnType::U32;
    fn cell(&self) -> Cell<'_> {
        Cell::U32(*self)
    }
    fn owned(&self) -> OwnedCell {
        OwnedCell::U32(*self)
    }
}

impl ColumnValue for u64 {
    const TYPE: ColumnType = ColumnType::U64;
    fn cell(&self) -> Cell<'_> {
        Cell::U64(*self)
    }
    fn owned(&self) -> OwnedCell {
        OwnedCell::U64(*self)
    }
}

impl ColumnValue for i64 {
    const TYPE: ColumnType = ColumnType::I64;
    fn cell(&self) -> Cell<'_> {
        Cell::I64(*self)
    }
    fn owned(&self) -> OwnedCell {
        OwnedCell::I64(*self)
    }
}

impl ColumnValue for f64 {
    const TYPE: ColumnType = ColumnType::F64;
    fn cell(&self) -> Cell<'_> {
        Cell::F64(*self)
    }
    fn owned(&self) -> OwnedCell {
        OwnedCell::F64(*self)
    }
}

impl ColumnValue for bool {
    const TYPE: ColumnType = ColumnType::Bool;
    fn cell(&self) -> Cell<'_> {
        Cell::Bool(*self)
    }
    fn owned(&self) -> OwnedCell {
        OwnedCell::Bool(*self)
    }
}

impl ColumnValue for &str {
    const TYPE: ColumnType = ColumnType::Utf8;
    fn cell(&self) -> Cell<'_> {
        Cell::Str(self)
    }
    fn owned(&self) -> OwnedCell {
        OwnedCell::Str((*self).to_string())
    }
}

impl ColumnValue for String {
    const TYPE: ColumnType = ColumnType::Utf8;
    fn cell(&self) -> Cell<'_> {
        Cell::Str(self)
    }
    fn owned(&self) -> OwnedCell {
        OwnedCell::Str(self.clone())
    }
}

/// A table cell that owns its text: rows kept after a run (summaries, experiment results,
/// a sweep cell's `cell.json`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum OwnedCell {
    /// Unsigned 32-bit.
    U32(u32),
    /// Unsigned 64-bit.
    U64(u64),
    /// Signed 64-bit.
    I64(i64),
    /// Float (in JSON, NaN and infinities as the strings `"NaN"`, `"inf"`, `"-inf"`).
    F64(#[serde(with = "json_f64")] f64),
    /// Boolean.
    Bool(bool),
    /// Text.
    Str(String),
}

/// Every f64 through JSON, which has no NaN or infinity: finite values as numbers (exact,
/// with serde_json's `float_roundtrip`), the others as text.
mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *x {
            x if x.is_finite() => s.serialize_f64(x),
            x if x.is_nan() => s.serialize_str("NaN"),
            x if x > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Text(String),
        }
        match Written::deserialize(d)? {
            Written::Number(x) => Ok(x),
            Written::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!(
                    "`{other}` is not a number"
                ))),
            },
        }
    }
}

impl OwnedCell {
    /// A borrowed view, to write.
    pub fn as_cell(&self) -> Cell<'_> {
        match self {
            OwnedCell::U32(x) => Cell::U32(*x),
            OwnedCell::U64(x) => Cell::U64(*x),
            OwnedCell::I64(x) => Cell::I64(*x),
            OwnedCell::F64(x) => Cell::F64(*x),
            OwnedCell::Bool(x) => Cell::Bool(*x),
            OwnedCell::Str(s) => Cell::Str(s),
        }
    }
}

impl super::table::StagedOutput {
    /// Stages `rows` as the table `R` declares, in `format`, whole: for results kept in
    /// memory (comparisons, episodes) rather than streamed during a run.
    ///
    /// # Errors
    /// The table's [`OutputError`].
    pub fn add_rows<R: TableRow>(
        &mut self,
        rows: &[R],
        format: super::table::TableFormat,
    ) -> Result<(), OutputError> {
        let mut table = self.table(R::TABLE.name, R::TABLE.columns, format)?;
        for row in rows {
            row.write_to(&mut table)?;
        }
        self.add_table(table.finish()?);
        Ok(())
    }
}

/// A row of a declared table.
pub trait TableRow {
    /// The table the row belongs to.
    const TABLE: TableSpec;
    /// Streams the row into `table` (whose columns are [`Self::TABLE`]'s).
    ///
    /// # Errors
    /// The writer's [`OutputError`].
    fn write_to(&self, table: &mut TableWriter) -> Result<(), OutputError>;
    /// The row as owned cells, in column order.
    fn to_owned_cells(&self) -> Vec<OwnedCell>;
}

/// Declares a table row: a struct whose fields are the columns, in order, each with its
/// type and one-line description (the description is the field's doc and the column's
/// `doc`, which the README's column tables must repeat word for word).
///
/// ```
/// dealersim::table_row! {
///     /// One row per (tick, desk).
///     pub struct DeskRow<'a> in "desks" {
///         tick: u32 => "tick index, 0-based",
///         desk: &'a str => "desk name",
///         pnl: f64 => "profit and loss this tick (currency)",
///     }
/// }
/// use dealersim::output::row::TableRow;
/// assert_eq!(DeskRow::TABLE.name, "desks");
/// assert_eq!(DeskRow::TABLE.columns[2].name, "pnl");
/// ```
#[macro_export]
macro_rules! table_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(<$lt:lifetime>)? in $table:literal {
            $( $field:ident : $ty:ty => $doc:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis struct $name $(<$lt>)? {
            $( #[doc = $doc] pub $field: $ty, )*
        }

        impl $(<$lt>)? $crate::output::row::TableRow for $name $(<$lt>)? {
            const TABLE: $crate::output::row::TableSpec = $crate::output::row::TableSpec {
                name: $table,
                columns: &[$(
                    $crate::output::table::Column {
                        name: ::std::borrow::Cow::Borrowed(stringify!($field)),
                        ty: <$ty as $crate::output::row::ColumnValue>::TYPE,
                        doc: $doc,
                    }
                ),*],
            };

            fn write_to(
                &self,
                table: &mut $crate::output::table::TableWriter,
            ) -> Result<(), $crate::output::table::OutputError> {
                table.write_row(&[$( $crate::output::row::ColumnValue::cell(&self.$field) ),*])
            }

            fn to_owned_cells(&self) -> Vec<$crate::output::row::OwnedCell> {
                vec![$( $crate::output::row::ColumnValue::owned(&self.$field) ),*]
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::table_row! {
        /// A row for the test.
        struct Sample<'a> in "sample" {
            tick: u32 => "tick",
            label: &'a str => "a label",
            value: f64 => "a value",
            flag: bool => "a flag",
        }
    }

    #[test]
    fn the_spec_follows_the_fields() {
        let spec = Sample::TABLE;
        assert_eq!(spec.name, "sample");
        let described: Vec<(&str, ColumnType, &str)> = spec
            .columns
            .iter()
            .map(|c| (c.name.as_ref(), c.ty, c.doc))
            .collect();
        assert_eq!(
            described,
            [
                ("tick", ColumnType::U32, "tick"),
                ("label", ColumnType::Utf8, "a label"),
                ("value", ColumnType::F64, "a value"),
                ("flag", ColumnType::Bool, "a flag"),
            ]
        );
    }

    #[test]
    fn owned_cells_are_in_column_order() {
        let row = Sample {
            tick: 3,
            label: "x",
            value: 1.5,
            flag: true,
        };
        assert_eq!(
            row.to_owned_cells(),
            [
                OwnedCell::U32(3),
                OwnedCell::Str("x".into()),
                OwnedCell::F64(1.5),
                OwnedCell::Bool(true),
            ]
        );
        for (cell, column) in row.to_owned_cells().iter().zip(Sample::TABLE.columns) {
            assert_eq!(cell.as_cell().column_type(), column.ty);
        }
    }
}
