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
from fleetstream.routing._model import COST_SCALE, Model, Span, TimeOfDay, time_of_day
from fleetstream.routing._result import Result
from fleetstream.routing._vrplib import Instance


@dataclass(frozen=True)
class Stop:
    """Stopping criteria; combine with ``|``: the search stops when any one is met.

    ``max_runtime`` in seconds (wall clock), ``max_iterations`` per thread, ``no_improvement``
    iterations without a new best solution; None: no such limit. Build them with ``MaxRuntime``,
    ``MaxIterations`` and ``NoImprovement``.

    >>> MaxRuntime("10s") | NoImprovement(5000)
    Stop(max_runtime=10.0, max_iterations=None, no_improvement=5000)
    """

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
    """Solves a routing problem; returns the best solution found as a :class:`Result`.

    Parameters:
        problem: a ``Model``, or an ``Instance`` from ``read_vrplib``.
        stop: composed stopping criteria, e.g. ``MaxRuntime("10s") | NoImprovement(5000)``.
        time_limit: wall-clock budget ("10s", "500ms", seconds or a ``timedelta``).
        max_iterations: iteration budget (per thread); deterministic for a seed.
        no_improvement: stop after this many iterations without a new best solution.
        seed: the random seed (a non-negative integer).
        threads: independent searches run on this many threads; the best result is kept.
        progress: True shows a tqdm bar (or prints to stderr); a callable gets a dict with
            ``iterations``, ``elapsed``, ``best_cost``, ``fraction`` and may return False to stop.
        initial: a starting solution as (vehicle type, [client indices]) pairs.

    The search stops when any criterion given is met; without any, after ``time_limit="10s"``.
    The same seed and thread count give the same result under an iteration budget. The GIL is
    released while solving; Ctrl-C stops the search and returns the best solution so far
    (``result.interrupted``). Raises ``ConfigError`` for an invalid model or argument.

    >>> import fleetstream as fs
    >>> m = fs.routing.Model()
    >>> hub = m.add_depot(x=0, y=0)
    >>> _ = m.add_vehicle_type(count=2, capacity=[10], start=hub)
    >>> for x, y in [(3, 4), (-3, 4), (0, -5)]:
    ...     _ = m.add_client(x=x, y=y, demand=[4])
    >>> result = fs.routing.solve(m, max_iterations=100, seed=1)
    >>> result.feasible, sorted(c for route in result.routes for c in route)
    (True, [0, 1, 2])
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
           time_limit: Span | None = None, seed: int = 1, threads: int = 1, max_iterations: int | None = None,
           matrices: Any = None) -> Result:
    """Inserts orders that arrive during the day into a running plan and re-plans the rest of the day.

    ``result``: the running plan (a result of ``solve`` or ``insert`` over a ``Model``).
    ``new_clients``: keyword arguments of ``Model.add_client``, one mapping per order; they get
    the indices after the model's clients. ``fixed``: the current time ("13:30", or a number for
    planar models). The re-planned day holds to what already happened and to what vans carry:

    * A stop a vehicle has reached or is driving to at ``fixed`` (it left the previous stop, or the
      depot, at or before ``fixed``) stays as it is, with its times (``RoutePlan.fixed`` counts them).
    * A vehicle on the road leaves its last fixed stop when its service there ends. It carries the
      goods of its remaining planned deliveries: they stay on it (no other vehicle serves them, and
      they are served even if late), and it takes no other deliveries (their goods are at the depot;
      a van does not come back to reload within a route). It may take pickups it has room for,
      counting what it picked up so far.
    * A vehicle not yet out may take any order and leaves the depot at ``fixed`` or later. A vehicle
      that has left its last stop (driving back, or back) takes nothing more: a second trip is not
      planned. One still driving to its last stop, or serving it, may add pickups after it.
    * Orders no vehicle can serve any more (a window that closes before any free vehicle can
      arrive, a demand above every free vehicle's capacity) are not scheduled: they are in
      ``missing`` with the reason in ``Result.reasons``, and the result is not feasible.

    The returned ``Result`` (over a copy of the model with the new clients) is the whole day, fixed
    prefixes and re-planned rest, evaluated by the same exact evaluator as ``solve``: ``feasible``,
    ``cost`` (the whole day's, driven parts included), arrival/start/departure, loads and end times
    all come from it, and ``Result.violations`` says why a day is not feasible. The search stops at ``time_limit`` or ``max_iterations`` (``time_limit="2s"``
    when neither is given); ``max_iterations`` alone gives the same result on every machine.
    ``iterations``, ``runtime`` and ``interrupted`` describe the re-planning search.
    For a model with matrices given by ``set_matrices``, ``matrices`` gives those of the day with
    the new orders (depots, the model's clients, then the new ones): a distance matrix, or a pair
    (distance, duration) as ``set_matrices`` takes them. ``seed`` and ``threads`` are as for ``solve``.

    >>> import fleetstream as fs
    >>> m = fs.routing.Model()
    >>> hub = m.add_depot(x=0, y=0)
    >>> _ = m.add_vehicle_type(count=2, capacity=[10], start=hub)
    >>> _ = m.add_client(x=10, y=0, demand=[3])
    >>> _ = m.add_client(x=-10, y=0, demand=[3])
    >>> morning = fs.routing.solve(m, max_iterations=50, seed=1)
    >>> day = fs.routing.insert(morning, [{"x": 0, "y": 10, "demand": [2]}], fixed=5, max_iterations=50)
    >>> day.feasible, sorted(c for route in day.routes for c in route)
    (True, [0, 1, 2])
    """
    if not isinstance(result.source, Model):
        raise ConfigError("insert() needs a result of a fleetstream.routing.Model (not of a VRPLIB instance)")
    model = result.source
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive integer, got {threads!r}")
    if model.geometry != "matrix" and matrices is not None:
        raise ConfigError("insert(matrices=...) is for models with given matrices (set_matrices)")
    if model.geometry == "matrix" and new_clients and matrices is None:
        raise ConfigError("insert(): the model has given matrices (set_matrices), so the new orders need theirs: "
                          "pass matrices= over all locations, the new orders last")
    if not model.clock and (isinstance(fixed, bool) or not isinstance(fixed, (int, float))):
        raise ConfigError(f"fixed: expected a number (the model's times are plain numbers), got {fixed!r}")
    now = time_of_day(fixed, "fixed")
    full = model.copy()
    for k, spec in enumerate(new_clients):
        try:
            full.add_client(**spec)
        except TypeError as error:
            raise ConfigError(f"new client {k}: {error}") from None
    if matrices is not None:
        distance, duration = matrices if isinstance(matrices, tuple) and len(matrices) == 2 else (matrices, None)
        full.set_matrices(distance, duration)
    full_problem = full._build(check_servable=False)  # validates the new clients (typed errors name them)
    nd = full.num_depots
    running = [(p.vehicle_type, [c + nd for c in p.clients], p.start_time) for p in result.plans]
    replan = full_problem.replan(running, now)

    criteria = Stop()
    if time_limit is not None:
        criteria = criteria | MaxRuntime(time_limit)
    if max_iterations is not None:
        criteria = criteria | MaxIterations(max_iterations)
    if criteria == Stop():
        criteria = MaxRuntime(2)
    rest = replan.problem.solve(seed=seed, threads=threads, max_runtime=criteria.max_runtime,
                                max_iterations=criteria.max_iterations, initial=replan.initial)
    if rest.interrupted:
        warnings.warn("routing search interrupted: returning the best plan found so far", RuntimeWarning, stacklevel=2)
    routes, starts, fixed_stops = replan.stitch(rest)
    native = full_problem.evaluate(routes, starts)
    day = Result._from_native(full, full_problem, native, float(COST_SCALE))
    for plan, n in zip(day.plans, fixed_stops):
        plan.fixed = n
    day.iterations, day.runtime, day.interrupted = rest.iterations, rest.runtime, rest.interrupted
    day.reasons = dict(replan.unservable)
    day._starts = list(starts)
    return day
