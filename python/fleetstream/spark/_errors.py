"""The one error every ``fleetstream.spark`` function raises for rows the operator cannot use."""

from __future__ import annotations

from fleetstream.exceptions import SchemaError


def unusable_rows(what: str, rows: int, where: str, first_reason: str) -> SchemaError:
    """``rows`` rows of ``where`` ("this partition", "this micro-batch") were rejected by ``what``."""
    return SchemaError(
        f"fleetstream.spark.{what}: {rows} row(s) of {where} could not be used (first: {first_reason}); "
        "filter them out or pass on_reject='drop'"
    )
