"""The public routing API: lat/lon models, typed errors, tables, exports, progress and dispatch."""

from __future__ import annotations

import json
import math
import random

import pyarrow as pa
import pytest

import fleetstream as fs


def berlin_day(n: int = 30, seed: int = 3) -> fs.routing.Model:
    rng = random.Random(seed)
    m = fs.routing.Model()
    depot = m.add_depot(lat=52.52, lon=13.40, name="hub")
    m.add_vehicle_type(count=4, capacity=[40], start=depot, end=depot, shift=("08:00", "18:00"),
                       max_duration="9h", fixed_cost=20, cost_per_km=1.0, speed_kmh=30)
    for i in range(n):
        start = rng.choice(["08:00", "10:00", "13:00"])
        end = {"08:00": "12:00", "10:00": "14:00", "13:00": "17:00"}[start]
        m.add_client(lat=52.52 + rng.uniform(-0.05, 0.05), lon=13.40 + rng.uniform(-0.08, 0.08), demand=[rng.randint(1, 5)],
                     service="4m", time_windows=[(start, end)], name=f"order-{i}")
    return m


def test_lat_lon_day_is_feasible_with_a_stop_table() -> None:
    result = fs.routing.solve(berlin_day(), max_iterations=150, seed=1)
    assert result.feasible and not result.missing
    assert sorted(c for r in result.routes for c in r) == list(range(30))
    stops = result.stops()
    assert stops.column_names == ["route", "vehicle_type", "seq", "client", "name", "arrival", "start", "departure", "load", "late"]
    assert stops.num_rows == 30
    assert stops["arrival"].type == pa.time32("s")
    assert stops["name"][0].as_py().startswith("order-")
    # cost = fixed costs + km driven (cost_per_km=1)
    assert result.cost == pytest.approx(20 * result.num_routes + result.distance / 1000, rel=1e-6)
    first = stops.slice(0, 1).to_pylist()[0]
    assert first["start"] >= first["arrival"]


def test_geojson_and_plot() -> None:
    result = fs.routing.solve(berlin_day(8), max_iterations=50)
    geo = result.to_geojson()
    json.dumps(geo)
    lines = [f for f in geo["features"] if f["geometry"]["type"] == "LineString"]
    assert len(lines) == result.num_routes
    lon, lat = lines[0]["geometry"]["coordinates"][0]
    assert (lon, lat) == pytest.approx((13.40, 52.52))
    import matplotlib
    matplotlib.use("Agg")
    ax = result.plot()
    assert ax.get_title()


def test_typed_errors_name_the_culprit() -> None:
    m = fs.routing.Model()
    d = m.add_depot(x=0, y=0)
    m.add_vehicle_type(count=2, capacity=[10], start=d)
    m.add_client(x=1, y=1, demand=[3])
    m.add_client(x=2, y=2, demand=[30], name="piano")
    with pytest.raises(fs.InfeasibleProblemError, match=r"client 1 .*capacity 10"):
        fs.routing.solve(m, max_iterations=10)

    m = fs.routing.Model()
    d = m.add_depot(x=0, y=0)
    m.add_vehicle_type(count=1, capacity=[10], start=d, shift=(0, 1000))
    m.add_client(x=100, y=0, time_windows=[(0, 50)])
    with pytest.raises(fs.InfeasibleProblemError, match="client 0 .*cannot be reached"):
        fs.routing.solve(m, max_iterations=10)

    m = fs.routing.Model()
    m.add_depot(x=0, y=0)
    with pytest.raises(fs.ConfigError, match=r"client 0 \('x'\): invalid coordinates"):
        m.add_client(x=float("nan"), y=0, name="x")
    with pytest.raises(fs.ConfigError, match="coordinates missing"):
        m.add_client(x=1)
    with pytest.raises(fs.ConfigError, match="start depot 3"):
        m.add_vehicle_type(count=1, start=3)
    with pytest.raises(fs.ConfigError, match="mixes"):
        m.add_client(lat=52.0, lon=13.0)
    assert issubclass(fs.InfeasibleProblemError, ValueError)


def test_empty_problem_gives_an_empty_solution() -> None:
    result = fs.routing.solve(fs.routing.Model(), max_iterations=10)
    assert result.feasible and result.routes == [] and result.cost == 0
    assert result.stops().num_rows == 0
    m = fs.routing.Model()
    m.add_depot(x=0, y=0)
    m.add_vehicle_type(count=3, capacity=[5])
    result = fs.routing.solve(m, time_limit="1s")
    assert result.feasible and result.routes == []


def test_optional_clients_and_several_windows() -> None:
    m = fs.routing.Model()
    d = m.add_depot(x=0, y=0)
    m.add_vehicle_type(count=1, capacity=[10], start=d, cost_per_km=1.0)
    near = m.add_client(x=1, y=0, required=False, prize=100)
    far = m.add_client(x=500, y=0, required=False, prize=10)
    both = m.add_client(x=0, y=10, time_windows=[(0, 2), (40, 50)], service=1)
    result = fs.routing.solve(m, max_iterations=100)
    assert result.feasible
    visited = {c for r in result.routes for c in r}
    assert near in visited and far not in visited and both in visited
    assert result.unassigned == [far]
    row = [r for r in result.stops().to_pylist() if r["client"] == both][0]
    assert 40 <= row["start"] <= 50


def test_progress_callback_can_stop_and_stop_criteria_compose() -> None:
    calls: list[dict] = []

    def progress(info: dict) -> bool:
        calls.append(info)
        return len(calls) < 2

    # The 20 s limit is only a safety net: the search stops when the callback says so, at the
    # iteration the callback saw (one thread), and never calls it again.
    result = fs.routing.solve(berlin_day(60), time_limit="20s", progress=progress)
    assert result.interrupted and len(calls) == 2
    assert result.iterations == calls[-1]["iterations"]
    assert set(calls[0]) == {"iterations", "elapsed", "best_cost", "fraction"}
    stop = fs.routing.MaxRuntime("5s") | fs.routing.MaxIterations(20) | fs.routing.NoImprovement(1000)
    assert stop == fs.routing.Stop(max_runtime=5.0, max_iterations=20, no_improvement=1000)
    r = fs.routing.solve(berlin_day(10), stop)
    assert 0 < r.iterations <= 20

    def boom(info: dict) -> None:
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        fs.routing.solve(berlin_day(40), time_limit="5s", progress=boom)


def test_insert_keeps_driven_stops_and_serves_new_orders() -> None:
    model = berlin_day(25)
    plan = fs.routing.solve(model, max_iterations=150, seed=2)
    assert plan.feasible
    new = [dict(lat=52.53, lon=13.41, demand=[2], service="3m", time_windows=[("11:30", "16:00")], name="late-1"),
           dict(lat=52.50, lon=13.37, demand=[1], service="3m", time_windows=[("12:00", "17:00")], name="late-2")]
    updated = fs.routing.insert(plan, new, fixed="11:00", time_limit="1s")
    assert updated.feasible
    served = sorted(c for r in updated.routes for c in r)
    assert served == list(range(27))
    # every stop reached by 11:00 is where it was, with the same ETA
    old = {(r["client"]): r for r in plan.stops().to_pylist()}
    for p in updated.plans:
        for s in range(p.fixed):
            assert old[p.clients[s]]["arrival"].hour * 3600 + old[p.clients[s]]["arrival"].minute * 60 + old[p.clients[s]]["arrival"].second == p.arrival[s]
    assert any(p.fixed for p in updated.plans)
    rows = {r["name"]: r for r in updated.stops().to_pylist()}
    assert rows["late-1"]["arrival"] is not None and rows["late-2"]["start"].hour >= 12
    assert math.isfinite(updated.cost)


def test_ctrl_c_returns_the_best_solution_so_far() -> None:
    import _thread
    import signal
    import threading

    model = berlin_day(45)
    # Ctrl-C as Python handles it by default: a shell's background job starts Python with SIGINT
    # ignored, and then interrupt_main does nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    # Only the interrupt can end this search early: without it, it runs its 30 s and reports no
    # interruption, so the assertions below check behaviour, not how long the machine took.
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.warns(RuntimeWarning, match="interrupted"):
            result = fs.routing.solve(model, time_limit="30s")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert result.interrupted and result.feasible
    assert sorted(c for r in result.routes for c in r) == list(range(45))


def test_two_depots_two_dimensions_pickups_and_user_matrices() -> None:
    m = fs.routing.Model()
    west = m.add_depot(x=0, y=0)
    east = m.add_depot(x=100, y=0)
    m.add_vehicle_type(count=2, capacity=[10, 3], start=west)
    m.add_vehicle_type(count=2, capacity=[10, 3], start=east, end=east)
    rng = random.Random(5)
    for i in range(16):
        x = rng.choice([rng.uniform(0, 20), rng.uniform(80, 100)])
        m.add_client(x=x, y=rng.uniform(-10, 10), demand=[2, 0], pickup=[0, 1] if i % 4 == 0 else None)
    result = fs.routing.solve(m, max_iterations=200, seed=3)
    assert result.feasible
    assert sorted(c for r in result.routes for c in r) == list(range(16))
    assert result.stops()["load"].type == pa.list_(pa.int64())
    # each vehicle stays on its side of the map
    coords = result.problem.coordinates()
    for p in result.plans:
        xs = [coords[c + 2][0] for c in p.clients]
        assert all(x < 50 for x in xs) or all(x > 50 for x in xs), (p.vehicle_type, xs)

    # the same problem through user-given matrices (read as metres: cost is per km) gives the same cost
    n = 18
    d = [[int(round(math.dist(coords[i], coords[j]))) for j in range(n)] for i in range(n)]
    m.set_matrices(d)
    again = fs.routing.solve(m, max_iterations=200, seed=3)
    assert again.feasible and again.cost * 1000 == pytest.approx(result.cost, rel=0.02)
    with pytest.raises(fs.ConfigError, match="square"):
        m.set_matrices([[0, 1], [1]])


def test_search_tuning_by_name() -> None:
    # The tuning script's way in: named settings on the native solve; the defaults spelled out give
    # the same result as none (one thread, an iteration budget), unknown or out-of-range ones a ConfigError.
    native = berlin_day(20)._build()
    defaults = {"temperature_start": 0.5, "temperature_end": 0.02, "ruin_removed": 15, "ruin_max_string": 10,
                "blink": 0.01, "target_feasible": 0.5, "penalty_interval": 25, "num_neighbours": 20}
    plain = native.solve(seed=3, max_iterations=50)
    spelled = native.solve(seed=3, max_iterations=50, tuning=defaults)
    assert (spelled.cost, spelled.routes()) == (plain.cost, plain.routes())
    other = native.solve(seed=3, max_iterations=50, tuning={"temperature_start": 2.0, "ruin_removed": 4})
    assert other.feasible
    with pytest.raises(fs.ConfigError, match='unknown setting "temperature"'):
        native.solve(max_iterations=5, tuning={"temperature": 1.0})
    with pytest.raises(fs.ConfigError, match="tuning blink"):
        native.solve(max_iterations=5, tuning={"blink": 1.5})
    with pytest.raises(fs.ConfigError, match="whole number"):
        native.solve(max_iterations=5, tuning={"ruin_max_string": 2.5})


def test_demands_and_capacities_of_different_dimensions_are_named() -> None:
    m = fs.routing.Model()
    depot = m.add_depot(x=0, y=0)
    m.add_vehicle_type(count=1, capacity=[10], start=depot)
    m.add_client(x=1, y=1, demand=[1])
    m.add_client(x=2, y=1, demand=[1, 2])
    with pytest.raises(fs.ConfigError, match=r"client 1's demand \[1, 2\] has 2 dimension\(s\) but vehicle type 0's "
                                             r"capacity \[10\] has 1"):
        fs.routing.solve(m, time_limit=0.1)


def test_infeasibility_names_times_of_day_on_a_clock() -> None:
    m = fs.routing.Model()
    depot = m.add_depot(lat=52.5, lon=13.4)
    m.add_vehicle_type(count=1, capacity=[10], start=depot, shift=("08:00", "09:00"))
    m.add_client(lat=52.6, lon=13.5, demand=[1], time_windows=[("12:00", "13:00")])
    with pytest.raises(fs.InfeasibleProblemError, match=r"shift ends at 09:00 \(earliest return 12:\d\d(:\d\d)?\)"):
        fs.routing.solve(m, time_limit=0.1)
    # planar models keep plain numbers: their times are not of a day
    p = fs.routing.Model()
    depot = p.add_depot(x=0, y=0)
    p.add_vehicle_type(count=1, capacity=[10], start=depot, shift=(0, 100))
    p.add_client(x=500, y=0, demand=[1])
    with pytest.raises(fs.InfeasibleProblemError, match=r"shift ends at 100 \(earliest return 1000\)"):
        fs.routing.solve(p, time_limit=0.1)


def test_an_infeasible_result_says_which_stops_are_late_and_by_how_much() -> None:
    """One van, two stops 10 km apart with windows closing five minutes after they open: the
    second is late. stops() flags it (its service start is pulled back to the window's close, so
    the late column is what makes the table read right) and violations names it."""
    m = fs.routing.Model()
    depot = m.add_depot(lat=52.5, lon=13.4)
    m.add_vehicle_type(count=1, capacity=[10], start=depot, shift=("08:00", "18:00"))
    for lat, lon in ((52.6, 13.5), (52.4, 13.3)):
        m.add_client(lat=lat, lon=lon, demand=[1], time_windows=[("09:00", "09:05")])
    result = fs.routing.solve(m, max_iterations=200)
    assert not result.feasible
    stops = result.stops().to_pylist()
    late = [s for s in stops if s["late"].total_seconds() > 0]
    assert len(late) == 1
    (stop,) = late
    seconds = lambda t: t.hour * 3600 + t.minute * 60 + t.second  # noqa: E731
    assert stop["start"] == stop["departure"] and seconds(stop["start"]) == 9 * 3600 + 5 * 60  # the window's close
    assert stop["late"].total_seconds() == seconds(stop["arrival"]) - seconds(stop["start"])
    assert sum(s["late"].total_seconds() for s in stops) == result.native.schedule()[0]["time_warp"]
    assert f"route 0, stop {stop['seq']} (client {stop['client']}): arrives at " in "\n".join(result.violations)
    # a feasible result has no late stop
    easy = fs.routing.Model()
    depot = easy.add_depot(lat=52.5, lon=13.4)
    easy.add_vehicle_type(count=2, capacity=[10], start=depot, shift=("08:00", "18:00"))
    for lat, lon in ((52.6, 13.5), (52.4, 13.3)):
        easy.add_client(lat=lat, lon=lon, demand=[1], time_windows=[("09:00", "12:00")])
    ok = fs.routing.solve(easy, max_iterations=200)
    assert ok.feasible and all(s["late"].total_seconds() == 0 for s in ok.stops().to_pylist()) and ok.violations == []
