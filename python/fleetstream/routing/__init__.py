"""Last-mile vehicle routing: build a :class:`Model`, :func:`solve` it, read the :class:`Result`.

>>> import fleetstream as fs
>>> m = fs.routing.Model()
>>> depot = m.add_depot(x=0, y=0)
>>> _ = m.add_vehicle_type(count=2, capacity=[10], start=depot)
>>> for x, y in [(3, 4), (-3, 4), (0, -5)]:
...     _ = m.add_client(x=x, y=y, demand=[4])
>>> result = fs.routing.solve(m, max_iterations=50, seed=1)
>>> result.feasible, round(result.cost)
(True, 26)

The solver is an iterated local search in Rust (string removal and blinking recreate, then a granular
local search with relocate, swap, or-opt, 2-opt, 2-opt* and SWAP* over penalised costs). Constraints:
multi-dimensional capacities, pickups and deliveries, time windows (one or several per client),
service times, several depots, heterogeneous vehicle types with shifts, maximum duration and distance
and fixed costs, optional clients with prizes, and skills.
"""

from fleetstream.routing._dispatcher import Dispatcher, EventReport, ImproveReport
from fleetstream.routing._fleet import read_fleet
from fleetstream.routing._model import Model
from fleetstream.routing._result import Result, RoutePlan
from fleetstream.routing._solve import MaxIterations, MaxRuntime, NoImprovement, Stop, insert, solve
from fleetstream.routing._vrplib import Instance, read_vrplib

__all__ = [
    "Dispatcher",
    "EventReport",
    "ImproveReport",
    "Instance",
    "MaxIterations",
    "MaxRuntime",
    "Model",
    "NoImprovement",
    "Result",
    "RoutePlan",
    "Stop",
    "insert",
    "read_fleet",
    "read_vrplib",
    "solve",
]
