"""solve_regions on local[2]: each region's stops equal a local fs.routing.solve of the same model,
seed and iteration budget, and every route is feasible by the independent checker; native objects
pickle; the solver's thread pool works in forked worker processes."""

from __future__ import annotations

import multiprocessing
import pickle
import random
from typing import Any

import pyarrow as pa
import pytest

import fleetstream as fs
from fleetstream import spark as fss
from fleetstream.exceptions import SchemaError

from ..routing.checker import Spec, build, route_check

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

ITERATIONS = 300


def region_spec(seed: int, clients: int) -> Spec:
    """A depot, 6 vehicles of capacity 20, clients with demands, service times and time windows."""
    rng = random.Random(seed)
    depot = (float(rng.randrange(-50, 50)), float(rng.randrange(-50, 50)))
    spec: Spec = {"depot": depot, "vehicles": [{"count": 6, "capacity": [20]}], "clients": []}
    for _ in range(clients):
        opens = rng.randrange(0, 200)
        spec["clients"].append(
            {
                "x": depot[0] + rng.randrange(-40, 41),
                "y": depot[1] + rng.randrange(-40, 41),
                "demand": [rng.randrange(1, 8)],
                "service": rng.randrange(0, 10),
                "tws": [(opens, opens + rng.randrange(200, 500))],
            }
        )
    return spec


REGIONS = {f"r{k}": region_spec(seed=k, clients=8 + 3 * k) for k in range(5)}


def order_id(region: str, client: int) -> int:
    """Sorted by id = the client order of the spec (the solver's input order)."""
    return int(region[1:]) * 1000 + client


@pytest.fixture(scope="module")
def frames(spark: Any) -> tuple[Any, Any]:
    orders = [
        (region, order_id(region, i), float(c["x"]), float(c["y"]), c["demand"][0], c["service"], *c["tws"][0])
        for region, spec in REGIONS.items()
        for i, c in enumerate(spec["clients"])
    ]
    random.Random(1).shuffle(orders)  # the input order must not matter
    orders_df = spark.createDataFrame(
        orders, "region string, order_id long, x double, y double, demand long, service long, opens long, closes long"
    )
    depots = [(region, *spec["depot"], 6, 20) for region, spec in REGIONS.items()]
    depots_df = spark.createDataFrame(depots, "region string, x double, y double, vehicles long, capacity long")
    return orders_df, depots_df


def test_each_region_equals_a_local_solve_and_is_feasible(frames: tuple[Any, Any]) -> None:
    orders_df, depots_df = frames
    stops = fss.solve_regions(
        orders_df, depots_df, "region", service="service", time_window=("opens", "closes"), max_iterations=ITERATIONS, seed=3
    ).toArrow()
    assert stops.num_rows == sum(len(s["clients"]) for s in REGIONS.values())  # every order exactly once
    for region, spec in REGIONS.items():
        mine = stops.filter(pa.compute.equal(stops.column("region"), region)).sort_by([("route", "ascending"), ("seq", "ascending")])
        local = fs.routing.solve(build(spec), max_iterations=ITERATIONS, seed=3)
        expected = local.stops()
        assert mine.column("order_id").to_pylist() == [order_id(region, c) for c in expected.column("client").to_pylist()]
        for column in ("route", "vehicle_type", "seq", "arrival", "start", "departure", "load"):
            assert mine.column(column).to_pylist() == expected.column(column).to_pylist(), (region, column)
        assert set(mine.column("region_cost").to_pylist()) == {local.cost}
        assert mine.column("region_feasible").to_pylist() == [True] * mine.num_rows
        # Independent feasibility check of every route.
        for route in set(mine.column("route").to_pylist()):
            on_route = mine.filter(pa.compute.equal(mine.column("route"), route))
            clients = [oid % 1000 for oid in on_route.column("order_id").to_pylist()]
            ok, _ = route_check(spec, on_route.column("vehicle_type")[0].as_py(), clients)
            assert ok, (region, route, clients)


def test_infeasible_regions_are_flagged_and_a_region_without_depot_fails(spark: Any) -> None:
    orders = spark.createDataFrame(
        [("a", 1, 0.0, 5.0, 15), ("a", 2, 0.0, -5.0, 15), ("b", 3, 1.0, 1.0, 1)],
        "region string, order_id long, x double, y double, demand long",
    )
    depots = spark.createDataFrame([("a", 0.0, 0.0, 1, 20)], "region string, x double, y double, vehicles long, capacity long")
    # One vehicle of capacity 20 cannot carry both orders of 15: every order still comes back
    # once, and the region says its plan is infeasible.
    only_a = fss.solve_regions(orders.filter("region = 'a'"), depots, max_iterations=200).orderBy("order_id").collect()
    assert [r.order_id for r in only_a] == [1, 2]
    assert {r.region_feasible for r in only_a} == {False}
    with pytest.raises(Exception, match=r"region 'b' has 1 order\(s\) but no depot"):
        fss.solve_regions(orders, depots, max_iterations=200).collect()
    with pytest.raises(SchemaError, match=r"lack column\(s\) \['demand'\]"):
        fss.solve_regions(orders.drop("demand"), depots)


def test_models_and_results_pickle() -> None:
    from pyspark import cloudpickle as untyped

    cloudpickle: Any = untyped
    spec = REGIONS["r2"]
    model = build(spec)
    result = fs.routing.solve(model, max_iterations=ITERATIONS, seed=5)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        again = fs.routing.solve(loads(dumps(model)), max_iterations=ITERATIONS, seed=5)
        assert again.routes == result.routes and again.cost == result.cost
        clone = loads(dumps(result))
        assert (clone.routes, clone.cost, clone.feasible, clone.iterations) == (
            result.routes,
            result.cost,
            result.feasible,
            result.iterations,
        )
        assert clone.stops().equals(result.stops())


def _solve_in_child(spec: Spec, queue: Any) -> None:
    result = fs.routing.solve(build(spec), max_iterations=ITERATIONS, seed=7, threads=2)
    queue.put((result.routes, result.cost))


def test_thread_pool_survives_fork() -> None:
    """Spark's Python workers are forked from a daemon that may already have solved (and so
    started the solver's threads): a forked child must still solve with threads=2."""
    spec = REGIONS["r3"]
    parent = fs.routing.solve(build(spec), max_iterations=ITERATIONS, seed=7, threads=2)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_solve_in_child, args=(spec, queue))
    child.start()
    child.join(120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked solve did not finish within 120 s (a thread pool deadlock after fork?)")
    assert child.exitcode == 0
    assert queue.get(timeout=10) == (parent.routes, parent.cost)


def test_solve_regions_with_two_threads_in_spark_workers(frames: tuple[Any, Any]) -> None:
    orders_df, depots_df = frames
    stops = fss.solve_regions(orders_df, depots_df, max_iterations=ITERATIONS, seed=3, threads=2).toArrow()
    for region, spec in REGIONS.items():
        local = fs.routing.solve(build(_without_windows(spec)), max_iterations=ITERATIONS, seed=3, threads=2)
        mine = stops.filter(pa.compute.equal(stops.column("region"), region))
        assert set(mine.column("region_cost").to_pylist()) == {local.cost}


def _without_windows(spec: Spec) -> Spec:
    """The model solve_regions builds when no service/time-window columns are named."""
    return {**spec, "clients": [{"x": c["x"], "y": c["y"], "demand": c["demand"]} for c in spec["clients"]]}
