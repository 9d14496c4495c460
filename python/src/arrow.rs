//! dealersim's in-memory tables as Arrow record batches, handed to Python through the
//! Arrow C stream interface (the PyCapsule protocol's `__arrow_c_stream__`).
//!
//! Numeric columns move their `Vec` into an Arrow buffer without copying; booleans are
//! bit-packed and strings get 32-bit offsets (both one pass). Every field is
//! non-nullable, as in the Parquet files, so `pyarrow.parquet.read_table` of a CLI run
//! and `pyarrow.table(...)` of one of these give equal tables, schemas included.

use std::sync::Arc;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchIterator,
    StringArray, UInt32Array, UInt64Array,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use dealersim::output::memory::{ColumnData, MemoryTable};
use dealersim::output::table::ColumnType;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// The Arrow type of a dealersim column type.
fn data_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::U32 => DataType::UInt32,
        ColumnType::U64 => DataType::UInt64,
        ColumnType::I64 => DataType::Int64,
        ColumnType::F64 => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Utf8 => DataType::Utf8,
    }
}

fn array(data: ColumnData) -> Result<ArrayRef, ArrowError> {
    Ok(match data {
        ColumnData::U32(v) => Arc::new(UInt32Array::new(ScalarBuffer::from(v), None)),
        ColumnData::U64(v) => Arc::new(UInt64Array::new(ScalarBuffer::from(v), None)),
        ColumnData::I64(v) => Arc::new(Int64Array::new(ScalarBuffer::from(v), None)),
        ColumnData::F64(v) => Arc::new(Float64Array::new(ScalarBuffer::from(v), None)),
        ColumnData::Bool(v) => Arc::new(BooleanArray::from(v)),
        ColumnData::Utf8 { bytes, ends } => {
            let too_long = || {
                ArrowError::ComputeError(format!(
                    "a string column holds {} bytes, more than Arrow's 32-bit offsets reach",
                    bytes.len()
                ))
            };
            let offsets = std::iter::once(Ok(0))
                .chain(
                    ends.iter()
                        .map(|&e| i32::try_from(e).map_err(|_| too_long())),
                )
                .collect::<Result<Vec<i32>, _>>()?;
            Arc::new(StringArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(bytes),
                None,
            )?)
        }
    })
}

/// `table` as one record batch (its columns moved, not copied).
///
/// # Errors
/// An [`ArrowError`] if a string column is over 2 GiB.
pub fn record_batch(table: MemoryTable) -> Result<RecordBatch, ArrowError> {
    let fields: Vec<Field> = table
        .columns
        .iter()
        .map(|c| Field::new(c.name.as_ref(), data_type(c.ty), false))
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let arrays = table
        .data
        .into_iter()
        .map(array)
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema, arrays)
}

/// One table of a run or an experiment, readable by any Arrow library that takes the
/// PyCapsule stream protocol: `pyarrow.table(t)`, `polars.from_arrow(...)`, DuckDB.
#[pyclass(module = "dealersim._dealersim", frozen)]
pub struct ArrowTable {
    batch: RecordBatch,
}

impl ArrowTable {
    /// Wraps a finished table.
    pub fn new(table: MemoryTable) -> PyResult<Self> {
        let batch = record_batch(table)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok(Self { batch })
    }
}

#[pymethods]
impl ArrowTable {
    /// Number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// The Arrow C stream of this table, as the PyCapsule protocol asks. A requested
    /// schema is not honoured (the table has one layout); consumers cast if they must.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let schema = self.batch.schema();
        // Record batches are reference-counted: each stream shares the same buffers.
        let reader = RecordBatchIterator::new([Ok(self.batch.clone())], schema);
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        // The capsule owns the stream struct: a consumer moves it out (and clears its
        // release callback); an unconsumed one is released when the capsule is dropped.
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }
}
