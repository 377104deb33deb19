"""VRPLIB and Solomon instance files."""

from __future__ import annotations

import os
from dataclasses import dataclass

from fleetstream import _core
from fleetstream.exceptions import ConfigError

ROUNDINGS = ("round", "dimacs", "exact", "none")


@dataclass(frozen=True)
class Instance:
    """A problem read from a file. ``scale`` is what integer costs are divided by to give the cost in
    the file's convention (10 for ``dimacs``, 1000 for ``exact``, else 1). ``node_ids``: the file's
    node id of each location (depots first, then clients, as the solver numbers them);
    ``vehicles``: per vehicle type, the file's vehicles (0-based) it stands for (identical vehicles
    are grouped into one type in order of first appearance, as PyVRP does)."""

    name: str
    problem: _core.RoutingProblem
    scale: int
    path: str
    node_ids: tuple[int, ...] = ()
    vehicles: tuple[tuple[int, ...], ...] = ()

    @property
    def num_clients(self) -> int:
        """How many clients the instance has."""
        return self.problem.num_clients

    @property
    def num_depots(self) -> int:
        """How many depots the instance has."""
        return self.problem.num_depots


def read_vrplib(path: str | os.PathLike[str], round: str = "round") -> Instance:
    """Reads a VRPLIB (``.vrp``) instance in PyVRP's dialect, or a Solomon (``.txt``) instance.

    Understood, as PyVRP's ``read`` interprets them: ``DIMENSION``, ``VEHICLES``, ``CAPACITY`` (a key
    for every vehicle, or ``CAPACITY_SECTION`` per vehicle, several columns for several dimensions),
    ``EDGE_WEIGHT_TYPE`` (``EUC_2D``, ``FLOOR_2D``, ``CEIL_2D``, ``EXACT_2D``, ``EXPLICIT`` with
    ``EDGE_WEIGHT_FORMAT`` ``FULL_MATRIX``, ``LOWER_ROW``, ``LOWER_DIAG_ROW``, ``UPPER_ROW``,
    ``UPPER_DIAG_ROW``), ``NODE_COORD``, ``DEMAND`` (or ``LINEHAUL``), ``BACKHAUL`` (or ``PICKUP``),
    ``SERVICE_TIME`` (key or section), ``TIME_WINDOW`` (a depot's window is its vehicles' shift),
    ``PRIZE`` (a client with a prize is optional, one with 0 required), ``DEPOT`` (several depots),
    and per vehicle (key for all or ``..._SECTION`` by vehicle id): ``VEHICLES_DEPOT``,
    ``VEHICLES_MAX_DURATION``, ``VEHICLES_MAX_DISTANCE`` (or the classic ``DISTANCE``),
    ``VEHICLES_FIXED_COST``, ``VEHICLES_UNIT_DISTANCE_COST``, ``VEHICLES_UNIT_DURATION_COST``,
    ``VEHICLES_ALLOWED_CLIENTS``; ``RELEASE_TIME`` and one-client ``MUTUALLY_EXCLUSIVE_GROUP`` s when
    they constrain nothing. Anything else (an unknown key or section, ``TYPE : VRPB``, reload depots,
    non-zero release times, groups, shipments) raises ``ParseError`` naming it and its line: the
    file is refused rather than solved as a different problem.

    ``round``: ``"round"`` (nearest integer: X, Augerat), ``"dimacs"`` (x10, truncated: Solomon as in
    the DIMACS challenge), ``"exact"`` (x1000, rounded) or ``"none"`` (truncated); applied, as PyVRP
    does, to distances, times, prizes, limits and fixed costs (not to unit costs, demands or
    capacities, which must be whole numbers).

    Returns an ``Instance`` to pass to ``solve``; raises ``ParseError`` for a file it cannot read
    as written (naming the section and line) and ``ConfigError`` for an unknown ``round``.

    >>> import os, tempfile
    >>> import fleetstream as fs
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.vrp")
    >>> _ = open(path, "w").write(
    ...     "NAME : tiny\\nTYPE : CVRP\\nDIMENSION : 4\\nEDGE_WEIGHT_TYPE : EUC_2D\\nCAPACITY : 10\\n"
    ...     "NODE_COORD_SECTION\\n1 0 0\\n2 3 4\\n3 -3 4\\n4 0 -5\\n"
    ...     "DEMAND_SECTION\\n1 0\\n2 4\\n3 4\\n4 4\\nDEPOT_SECTION\\n1\\n-1\\nEOF\\n")
    >>> instance = fs.routing.read_vrplib(path)
    >>> instance.name, instance.num_depots, instance.num_clients
    ('tiny', 1, 3)
    >>> result = fs.routing.solve(instance, max_iterations=100, seed=1)
    >>> result.feasible, sorted(c for route in result.routes for c in route)
    (True, [0, 1, 2])
    """
    if round not in ROUNDINGS:
        raise ConfigError(f"round must be one of {', '.join(ROUNDINGS)}; got {round!r}")
    problem, name, scale, node_ids, vehicles = _core.read_vrplib(os.fspath(path), round)
    return Instance(name=name or os.path.splitext(os.path.basename(path))[0], problem=problem, scale=scale,
                    path=os.fspath(path), node_ids=tuple(node_ids), vehicles=tuple(tuple(v) for v in vehicles))
