"""Arrow-compatible input: anything with the Arrow PyCapsule interface passes through untouched;
pandas frames and plain Python rows are converted once."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from fleetstream.exceptions import SchemaError


def as_arrow(data: Any, what: str = "input") -> Any:
    """An object the native core can read (PyCapsule interface), or a SchemaError naming the type."""
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        # pandas also has __arrow_c_stream__ in recent versions, but it exports the index too.
        if not _is_pandas(data):
            return data
    if _is_pandas(data):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, dict):
        return pa.table(data)
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return pa.Table.from_pylist(data)
    raise SchemaError(
        f"{what} must be an Arrow-compatible table or record batch (pyarrow, polars, pandas), "
        f"a dict of columns or a list of row dicts; got {type(data).__name__}"
    )


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas.") and type(data).__name__ == "DataFrame"


def concat(tables: list[pa.Table], empty: pa.Schema | None = None) -> pa.Table:
    """One table from side-output tables whose schemas may differ between pushes."""
    if not tables:
        return pa.table({}) if empty is None else empty.empty_table()
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")
