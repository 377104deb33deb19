"""``solve`` with composable stopping criteria and progress reporting, and ``insert`` for real-time
dispatch (new orders during the day, routes already driven kept as they are)."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from fleetstream import _core
from fleetstream.exceptions import ConfigError
from fleetstream.routing._model import COST_SCALE, UNBOUNDED, Model, Span, TimeOfDay, span, time_of_day
from fleetstream.routing._result import Result, RoutePlan
from fleetstream.routing._vrplib import Instance


@dataclass(frozen=True)
class Stop:
    """Stopping criteria; combine with ``|``: the search stops when any one is met."""

    max_runtime: float | None = None
    max_iterations: int | None = None
    no_improvement: int | None = None

    def __or__(self, other: Stop) -> Stop:
        def first(a: Any, b: Any) -> Any:
            return b if a is None else a if b is None else min(a, b)
        return Stop(first(self.max_runtime, other.max_runtime), first(self.max_iterations, other.max_iterations),
                    first(self.no_improvement, other.no_improvement))


def MaxRuntime(limit: Span) -> Stop:  # noqa: N802 - named like the criteria classes of PyVRP
    """Stop after ``limit`` ("10s", seconds, or a timedelta)."""
    return Stop(max_runtime=_seconds(limit, "MaxRuntime"))


def MaxIterations(n: int) -> Stop:  # noqa: N802
    """Stop after ``n`` iterations (per thread)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"MaxIterations: expected a non-negative integer, got {n!r}")
    return Stop(max_iterations=n)


def NoImprovement(n: int) -> Stop:  # noqa: N802
    """Stop after ``n`` iterations without a new best solution."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"NoImprovement: expected a positive integer, got {n!r}")
    return Stop(no_improvement=n)


def _seconds(value: Span, name: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"{name}: expected a non-negative number of seconds, got {value!r}")
        return float(value)
    from fleetstream.routing._model import span as _span
    if isinstance(value, str):
        try:
            return _core.parse_duration(value) / 1000
        except ValueError as error:
            raise ConfigError(f"{name}: {error}") from None
    return float(_span(value, name))


Progress = Union[bool, Callable[[dict[str, Any]], Any], None]


def _progress_callback(progress: Progress, stop: Stop) -> tuple[Callable[[dict[str, Any]], Any] | None, Callable[[], None]]:
    """The callback handed to the native search, and a function closing any progress bar."""
    if progress is None or progress is False:
        return None, lambda: None
    if callable(progress):
        return progress, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # plain text, at most once a second
        last = [0.0]

        def text(info: dict[str, Any]) -> None:
            now = time.monotonic()
            if now - last[0] >= 1.0:
                last[0] = now
                best = info["best_cost"]
                print(f"  {info['elapsed']:6.1f}s  {info['iterations']:>8} iterations  best "
                      f"{'-' if best is None else best}", file=sys.stderr)
        return text, lambda: None
    total = 100 if stop.max_runtime is not None or stop.max_iterations is not None else None
    bar = tqdm(total=total, desc="routing", unit="%" if total else "it", leave=False)

    def update(info: dict[str, Any]) -> None:
        if info["fraction"] is not None:
            bar.n = int(100 * info["fraction"])
        else:
            bar.n = info["iterations"]
        best = info["best_cost"]
        bar.set_postfix(iterations=info["iterations"], best="-" if best is None else f"{best:.6g}", refresh=False)
        bar.refresh()
    return update, bar.close


def _in_user_units(callback: Callable[[dict[str, Any]], Any], scale: float) -> Callable[[dict[str, Any]], Any]:
    def report(info: dict[str, Any]) -> Any:
        if info.get("best_cost") is not None:
            info["best_cost"] = info["best_cost"] / scale
        return callback(info)
    return report


def solve(problem: Model | Instance, stop: Stop | None = None, *, time_limit: Span | None = None,
          max_iterations: int | None = None, no_improvement: int | None = None, seed: int = 1, threads: int = 1,
          progress: Progress = False, initial: Sequence[tuple[int, Sequence[int]]] | None = None) -> Result:
    """Solves a routing problem; returns the best solution found.

    Give ``time_limit`` ("10s"), ``max_iterations``, ``no_improvement`` or a composed ``stop`` (e.g.
    ``MaxRuntime("10s") | NoImprovement(5000)``); without any, ``time_limit="10s"``. The same seed
    and thread count give the same result under an iteration budget. The GIL is released while
    solving; Ctrl-C stops the search and returns the best solution so far (``result.interrupted``).
    ``progress=True`` shows a tqdm bar (or prints to stderr); a callable gets a dict with
    ``iterations``, ``elapsed``, ``best_cost``, ``fraction`` and may return False to stop.
    ``initial``: a starting solution as (vehicle type, [client indices]) pairs.
    """
    criteria = stop or Stop()
    if time_limit is not None:
        criteria = criteria | MaxRuntime(time_limit)
    if max_iterations is not None:
        criteria = criteria | MaxIterations(max_iterations)
    if no_improvement is not None:
        criteria = criteria | NoImprovement(no_improvement)
    if criteria == Stop():
        criteria = MaxRuntime(10)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive integer, got {threads!r}")
    if isinstance(problem, Model):
        native_problem = problem._build()
        scale = float(COST_SCALE)
    elif isinstance(problem, Instance):
        native_problem, scale = problem.problem, float(problem.scale)
    else:
        raise ConfigError(f"solve() expects a fleetstream.routing.Model or Instance, got {type(problem).__name__}")
    nd = native_problem.num_depots
    init = None if initial is None else [(vt, [c + nd for c in clients]) for vt, clients in initial]
    user_callback, close = _progress_callback(progress, criteria)
    callback = None if user_callback is None else _in_user_units(user_callback, scale)
    try:
        native = native_problem.solve(seed=seed, threads=threads, max_runtime=criteria.max_runtime,
                                      max_iterations=criteria.max_iterations, no_improvement=criteria.no_improvement,
                                      initial=init, callback=callback)
    finally:
        close()
    if native.interrupted and user_callback is not progress:
        warnings.warn("routing search interrupted: returning the best solution found so far", RuntimeWarning, stacklevel=2)
    return Result._from_native(problem, native_problem, native, scale)


def insert(result: Result, new_clients: Sequence[Mapping[str, Any]], fixed: TimeOfDay, *,
           time_limit: Span = "2s", seed: int = 1, threads: int = 1) -> Result:
    """Inserts orders that arrive during the day into a running plan and re-optimises the rest.

    ``new_clients``: keyword arguments of ``Model.add_client`` (one mapping per order). ``fixed``: the
    current time; every stop a vehicle has reached or is driving to by then stays as it is, each
    vehicle continues from its last fixed stop, and vehicles not yet out may take any work. Returns a
    ``Result`` over a copy of the model with the new clients appended (indices after the old ones),
    with the new ETAs; ``RoutePlan.fixed`` counts each route's fixed stops. New orders are assumed
    loadable on any vehicle (a van out on its route has room for them if its capacity allows).
    """
    if not isinstance(result.source, Model):
        raise ConfigError("insert() needs a result of a fleetstream.routing.Model (not of a VRPLIB instance)")
    model = result.source
    if not model.clock:
        now = int(fixed) if isinstance(fixed, (int, float)) else time_of_day(fixed, "fixed")
    else:
        now = time_of_day(fixed, "fixed")
    full = model.copy()
    first_new = full.num_clients
    for k, spec in enumerate(new_clients):
        try:
            full.add_client(**spec)
        except TypeError as error:
            raise ConfigError(f"new client {k}: {error}") from None
    full_problem = full._build()  # validates the new clients (typed errors name them)

    # What is already driven: per route, the stops reached or being driven to at `now`.
    prefixes: list[int] = []
    for plan in result.plans:
        n_fixed = 0
        prev_departure = plan.start_time
        for s in range(len(plan.clients)):
            if prev_departure <= now:
                n_fixed = s + 1
                prev_departure = plan.departure[s]
            else:
                break
        if plan.start_time > now:
            n_fixed = 0
        prefixes.append(n_fixed)

    # The rest of the day as a new model: each vehicle out on the road becomes its own vehicle type,
    # starting at its last fixed stop when it leaves it.
    sub = Model()
    sub._geometry = full._geometry
    vts = full._vehicle_types
    for d in full._depots:
        sub._depots.append(d)
    remaining_count = [vt.count for vt in vts]
    active: list[tuple[int, int]] = []  # (plan index, sub vehicle type)
    for k, plan in enumerate(result.plans):
        if prefixes[k] == 0:
            continue
        vt = vts[plan.vehicle_type]
        remaining_count[plan.vehicle_type] -= 1
        last = full._clients[plan.clients[prefixes[k] - 1]]
        depot = len(sub._depots)
        sub._depots.append(type(full._depots[0])(last.a, last.b, f"vehicle {k} position", (0, UNBOUNDED)))
        leave = plan.departure[prefixes[k] - 1]
        picked = [sum(full._clients[c].pickup[d] if d < len(full._clients[c].pickup) else 0 for c in plan.clients[:prefixes[k]])
                  for d in range(len(vt.capacity))]
        t = len(sub._vehicle_types)
        sub._vehicle_types.append(type(vt)(
            count=1, capacity=[max(0, c - p) for c, p in zip(vt.capacity, picked)], start=depot, end=vt.end,
            shift=(max(leave, vt.shift[0]), vt.shift[1]),
            max_duration=vt.max_duration if vt.max_duration >= UNBOUNDED else max(0, vt.max_duration - (leave - plan.start_time)),
            max_distance=vt.max_distance, fixed_cost=0, cost_per_km=vt.cost_per_km, cost_per_hour=vt.cost_per_hour,
            speed_kmh=vt.speed_kmh, skills=vt.skills, name=f"vehicle {k} (on the road)"))
        active.append((k, t))
    base_type: list[int] = []
    for t, vt in enumerate(vts):
        base_type.append(len(sub._vehicle_types))
        sub._vehicle_types.append(type(vt)(
            count=max(0, remaining_count[t]), capacity=vt.capacity, start=vt.start, end=vt.end,
            shift=(max(vt.shift[0], now), vt.shift[1]), max_duration=vt.max_duration, max_distance=vt.max_distance,
            fixed_cost=vt.fixed_cost, cost_per_km=vt.cost_per_km, cost_per_hour=vt.cost_per_hour,
            speed_kmh=vt.speed_kmh, skills=vt.skills, name=vt.name))
    done = {c for k, plan in enumerate(result.plans) for c in plan.clients[:prefixes[k]]}
    open_clients = [c for c in range(full.num_clients) if c not in done]
    sub_index = {c: i for i, c in enumerate(open_clients)}
    for c in open_clients:
        sub._clients.append(full._clients[c])
    sub._skills = dict(full._skills)
    initial: list[tuple[int, list[int]]] = []
    active_of = dict(active)
    for k, plan in enumerate(result.plans):
        rest = [sub_index[c] for c in plan.clients[prefixes[k]:]]
        if k in active_of:
            initial.append((active_of[k], rest))
        elif rest:
            initial.append((base_type[plan.vehicle_type], rest))
    reopt = solve(sub, time_limit=time_limit, seed=seed, threads=threads, initial=initial)

    # Stitch: fixed prefixes with their old times, then the re-optimised remainder.
    plans: list[RoutePlan] = []
    sub_plans = {p.vehicle_type: p for p in reopt.plans if p.vehicle_type < len(active)}
    for k, t in active:
        old = result.plans[k]
        n = prefixes[k]
        tail = sub_plans.get(t)
        clients = old.clients[:n] + ([open_clients[c] for c in tail.clients] if tail else [])
        plans.append(RoutePlan(
            vehicle_type=old.vehicle_type, clients=clients,
            arrival=old.arrival[:n] + (tail.arrival if tail else []), start=old.start[:n] + (tail.start if tail else []),
            departure=old.departure[:n] + (tail.departure if tail else []), load=old.load[:n] + (tail.load if tail else []),
            distance=0, duration=0, start_time=old.start_time, end_time=tail.end_time if tail else old.departure[n - 1],
            fixed=n))
    original_type = {base_type[t]: t for t in range(len(vts))}
    for p in reopt.plans:
        if p.vehicle_type >= len(active):
            plans.append(RoutePlan(
                vehicle_type=original_type[p.vehicle_type], clients=[open_clients[c] for c in p.clients],
                arrival=p.arrival, start=p.start, departure=p.departure, load=p.load, distance=0, duration=0,
                start_time=p.start_time, end_time=p.end_time))
    # Cost and distances of the stitched routes on the full problem (driven parts included).
    native = full_problem.evaluate([(p.vehicle_type, [c + full.num_depots for c in p.clients]) for p in plans])
    for p, r in zip(plans, native.schedule()):
        p.distance, p.duration = r["distance"], r["duration"]
    return Result(source=full, problem=full_problem, native=native, plans=plans, cost=native.cost / COST_SCALE,
                  feasible=reopt.feasible, iterations=reopt.iterations, runtime=reopt.runtime,
                  interrupted=reopt.interrupted, missing=[open_clients[c] for c in reopt.missing])
