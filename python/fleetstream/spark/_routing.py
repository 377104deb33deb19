"""Distributed routing: :func:`solve_regions` solves one routing problem per region on the executors.

Orders and depots are co-grouped by region (``orders.groupBy(region).cogroup(depots.groupBy(region))
.applyInArrow``): each region's orders and depots arrive at one executor as Arrow tables, where a
:class:`fleetstream.routing.Model` is built (orders sorted by id, so the model does not depend on
the order Spark delivers rows in) and solved by the Rust solver. Nothing native travels: the
function shipped to executors holds plain settings, and each executor builds its own problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from fleetstream.exceptions import ConfigError, SchemaError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from fleetstream.routing import Model

Geometry = Literal["planar", "latlon"]

#: Columns of the stop table after the region and order id columns.
STOP_FIELDS = [
    pa.field("route", pa.int32()),
    pa.field("vehicle_type", pa.int32()),
    pa.field("seq", pa.int32()),
    pa.field("arrival", pa.float64()),
    pa.field("start", pa.float64()),
    pa.field("departure", pa.float64()),
    pa.field("load", pa.int64()),
    pa.field("region_cost", pa.float64()),
    pa.field("region_feasible", pa.bool_()),
]


def solve_regions(
    orders: DataFrame,
    depots: DataFrame,
    region_col: str = "region",
    *,
    order_id: str = "order_id",
    coordinates: tuple[str, str] = ("x", "y"),
    geometry: Geometry = "planar",
    demand: str | None = "demand",
    service: str | None = None,
    time_window: tuple[str, str] | None = None,
    vehicles: str = "vehicles",
    capacity: str = "capacity",
    max_iterations: int | None = 2_000,
    no_improvement: int | None = None,
    time_limit: str | float | None = None,
    seed: int = 1,
    threads: int = 1,
) -> DataFrame:
    """One vehicle routing problem per region, solved in parallel on the executors; one row per
    order: where and when it is served.

    ``orders``: ``region_col``, ``order_id``, the two ``coordinates`` columns (x, y, or lat, lon
    with ``geometry="latlon"``), and optionally ``demand``, ``service`` time and a ``time_window``
    (open, close) pair of columns (planar units; seconds of the day for lat/lon).
    ``depots``: ``region_col``, the coordinates, and per depot row its fleet: ``vehicles`` (count)
    of ``capacity``. A region may have several depots; a region with orders but no depot raises a
    :class:`~fleetstream.SchemaError` naming it.

    Output columns: the region, the order id, ``route`` (per region, from 0), ``vehicle_type``
    (the depot row's index within its region, by coordinates), ``seq`` (1 = first stop),
    ``arrival``, ``start``, ``departure``, ``load`` (after the stop) and the region's
    ``region_cost`` and ``region_feasible``. Every order appears exactly once: an order no route
    serves has null route, seq and times.

    The search stops at the first of ``max_iterations``, ``no_improvement`` and ``time_limit``;
    with iteration limits only, a region's result equals ``fs.routing.solve`` of the same model,
    seed and ``threads`` on one machine.

    >>> from fleetstream.spark import solve_regions
    >>> orders = spark.createDataFrame(
    ...     [("north", 1, 0.0, 5.0, 3), ("north", 2, 0.0, 9.0, 3), ("south", 3, 0.0, -4.0, 5)],
    ...     "region string, order_id long, x double, y double, demand long")  # doctest: +SKIP
    >>> depots = spark.createDataFrame([("north", 0.0, 0.0, 1, 10), ("south", 0.0, 0.0, 1, 10)],
    ...     "region string, x double, y double, vehicles long, capacity long")  # doctest: +SKIP
    >>> stops = solve_regions(orders, depots, max_iterations=100)  # doctest: +SKIP
    >>> [tuple(r) for r in stops.orderBy("order_id").select("region", "order_id", "seq", "arrival").collect()]  # doctest: +SKIP
    [('north', 1, 1, 5.0), ('north', 2, 2, 9.0), ('south', 3, 1, 4.0)]
    """
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    if geometry not in ("planar", "latlon"):
        raise ConfigError(f"geometry must be 'planar' or 'latlon', got {geometry!r}")
    if max_iterations is None and no_improvement is None and time_limit is None:
        raise ConfigError("solve_regions needs a stopping rule: max_iterations, no_improvement or time_limit")
    order_columns = [region_col, order_id, *coordinates, *(c for c in (demand, service) if c), *(time_window or ())]
    depot_columns = [region_col, *coordinates, vehicles, capacity]
    for what, df, needed in (("orders", orders, order_columns), ("depots", depots, depot_columns)):
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise SchemaError(f"fleetstream.spark.solve_regions: {what} lack column(s) {missing}; they have {df.columns}")
    orders, depots = orders.select(*order_columns), depots.select(*depot_columns)
    orders_arrow = to_arrow_schema(orders.schema, timezone="UTC")
    output = pa.schema([orders_arrow.field(region_col), orders_arrow.field(order_id), *STOP_FIELDS])
    solver = RegionSolver(
        region_col=region_col, order_id=order_id, coordinates=coordinates, geometry=geometry, demand=demand,
        service=service, time_window=time_window, vehicles=vehicles, capacity=capacity, output=output,
        stop={"max_iterations": max_iterations, "no_improvement": no_improvement, "time_limit": time_limit},
        seed=seed, threads=threads,
    )  # fmt: skip

    # A plain function of (key, left, right): pyspark picks the arguments it passes from the
    # function's signature, which a callable object's `self` would throw off.
    def solve_region(key: tuple[Any, ...], region_orders: pa.Table, region_depots: pa.Table) -> pa.Table:
        return solver(region_orders, region_depots)

    grouped = orders.groupBy(region_col).cogroup(depots.groupBy(region_col))
    result: DataFrame = grouped.applyInArrow(solve_region, from_arrow_schema(output))
    return result


@dataclass(frozen=True)
class RegionSolver:
    """The picklable settings ``applyInArrow`` ships to executors; called per region: build the
    model, solve, list stops."""

    region_col: str
    order_id: str
    coordinates: tuple[str, str]
    geometry: Geometry
    demand: str | None
    service: str | None
    time_window: tuple[str, str] | None
    vehicles: str
    capacity: str
    output: pa.Schema
    stop: dict[str, Any]
    seed: int
    threads: int

    def model(self, orders: pa.Table, depots: pa.Table) -> tuple[Model, pa.Table]:
        """The region's model, and its orders in model order (by order id)."""
        from fleetstream.routing import Model

        region = (orders.column(self.region_col)[0] if orders.num_rows else depots.column(self.region_col)[0]).as_py()
        if depots.num_rows == 0:
            raise SchemaError(f"fleetstream.spark.solve_regions: region {region!r} has {orders.num_rows} order(s) but no depot")
        orders = orders.sort_by(self.order_id)
        depots = depots.sort_by([(c, "ascending") for c in self.coordinates])
        model = Model()
        a, b = self.coordinates
        coords = ("lat", "lon") if self.geometry == "latlon" else ("x", "y")
        for row in depots.to_pylist():
            depot = model.add_depot(**{coords[0]: row[a], coords[1]: row[b]})
            model.add_vehicle_type(count=int(row[self.vehicles]), capacity=[int(row[self.capacity])], start=depot)
        for row in orders.to_pylist():
            extra: dict[str, Any] = {}
            if self.service:
                extra["service"] = row[self.service] or 0
            if self.time_window:
                extra["time_windows"] = [(row[self.time_window[0]], row[self.time_window[1]])]
            model.add_client(
                **{coords[0]: row[a], coords[1]: row[b]},
                demand=[int(row[self.demand] or 0)] if self.demand else [0],
                name=str(row[self.order_id]),
                **extra,
            )
        return model, orders

    def __call__(self, orders: pa.Table, depots: pa.Table) -> pa.Table:
        from fleetstream.routing import solve

        if orders.num_rows == 0:
            return self.output.empty_table()
        model, orders = self.model(orders, depots)
        result = solve(model, seed=self.seed, threads=self.threads, **self.stop)
        stops = result.stops()
        served = stops.column("client").to_pylist()
        # Every order once: served ones in route order, then the ones no route serves.
        unserved = sorted(set(range(orders.num_rows)) - set(served))
        rows = pa.array(served + unserved, pa.int64())
        n_served, n = len(served), orders.num_rows

        def padded(column: pa.ChunkedArray, typ: pa.DataType) -> pa.Array:
            if pa.types.is_time(column.type) or pa.types.is_duration(column.type):
                column = pc.cast(pc.cast(column, pa.int64() if pa.types.is_duration(column.type) else pa.int32()), pa.int64())
            values = pc.cast(column, typ).combine_chunks() if n_served else pa.array([], typ)
            return pa.concat_arrays([values, pa.nulls(n - n_served, typ)])

        columns = {
            self.region_col: orders.column(self.region_col).take(rows),
            self.order_id: orders.column(self.order_id).take(rows),
        }
        for field in STOP_FIELDS[:7]:
            columns[field.name] = padded(stops.column(field.name), field.type)
        columns["region_cost"] = pa.array([result.cost] * n, pa.float64())
        columns["region_feasible"] = pa.array([result.feasible] * n, pa.bool_())
        return pa.table(columns).cast(self.output)
