//! Arrow across the boundary without copies: anything speaking the Arrow PyCapsule interface in,
//! pyarrow tables out.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;

/// All record batches of an Arrow-compatible object (table, batch, stream). An empty table still
/// gives one empty batch, so its schema is checked like any other input.
pub fn batches_of(data: AnyRecordBatch) -> PyResult<Vec<RecordBatch>> {
    let reader = data.into_reader()?;
    let schema = reader.schema();
    let mut batches = Vec::new();
    for batch in reader {
        batches.push(batch.map_err(crate::Error::from)?);
    }
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// A pyarrow.Table holding `batches` (which all have `schema`).
///
/// Read through `pyarrow.RecordBatchReader.from_stream` (pyarrow >= 15) rather than
/// `pyarrow.table()`, which first checks whether its argument is a pandas DataFrame and so
/// imports pandas: 0.3-0.4 s on the first push of a process that never used pandas.
pub fn to_pyarrow_table<'py>(
    py: Python<'py>,
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
) -> PyResult<Bound<'py, PyAny>> {
    let stream = PyTable::try_new(batches, schema)?.into_pyobject(py)?;
    py.import(intern!(py, "pyarrow"))?
        .getattr(intern!(py, "RecordBatchReader"))?
        .call_method1(intern!(py, "from_stream"), (stream,))?
        .call_method0(intern!(py, "read_all"))
}

/// A pyarrow.Table holding one batch.
pub fn batch_to_pyarrow_table<'py>(py: Python<'py>, batch: RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let schema = batch.schema();
    to_pyarrow_table(py, vec![batch], schema)
}
