"""Plain-Python VRPLIB reading and solution checking for the routing benchmark and the tuning script.

Independent of the three solvers: the checker recomputes every returned solution's distance from the
coordinates in the instance's convention and checks visits, fleet size, capacity and time windows, so
no contender is credited a cost its routes do not have.

Conventions (those of the best-known solutions): ``round`` (X, Augerat): Euclidean distance rounded
to the nearest integer, times likewise; ``dimacs`` (Solomon): distances, times, windows and service
times x10, truncated, cost reported / 10. Objective: total distance, any number of routes up to the
fleet size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class VrpInstance:
    """Location 0 is the depot, 1..n-1 the clients in file order."""

    name: str
    coords: list[tuple[float, float]]
    demand: list[int]
    capacity: int
    vehicles: int | None  # None: no VEHICLES key (X, Augerat: the fleet is not limited)
    windows: list[tuple[float, float]] | None = None
    service: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.coords)


def read(path: Path) -> VrpInstance:
    """Reads the VRPLIB subset of the Solomon and X files (one depot, node 1)."""
    coords: dict[int, tuple[float, float]] = {}
    demand: dict[int, int] = {}
    tw: dict[int, tuple[float, float]] = {}
    service: dict[int, float] = {}
    header: dict[str, str] = {}
    section = None
    for line in Path(path).read_text().splitlines():
        s = line.strip()
        if not s or s == "EOF":
            continue
        if s.endswith("SECTION"):
            section = s
            continue
        if ":" in s and not (s[0].isdigit() or s[0] == "-"):
            k, v = s.split(":", 1)
            header[k.strip()] = v.strip()
            section = None
            continue
        parts = s.split()
        if section == "NODE_COORD_SECTION":
            coords[int(parts[0])] = (float(parts[1]), float(parts[2]))
        elif section == "DEMAND_SECTION":
            demand[int(parts[0])] = int(parts[1])
        elif section == "TIME_WINDOW_SECTION":
            tw[int(parts[0])] = (float(parts[1]), float(parts[2]))
        elif section == "SERVICE_TIME_SECTION":
            service[int(parts[0])] = float(parts[1])
    ids = sorted(coords)
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError(f"{path}: node ids are not 1..n")
    default_service = float(header.get("SERVICE_TIME", "0").split()[0])
    return VrpInstance(
        name=Path(path).stem,
        coords=[coords[i] for i in ids],
        demand=[demand.get(i, 0) for i in ids],
        capacity=int(header["CAPACITY"]),
        vehicles=int(header["VEHICLES"]) if "VEHICLES" in header else None,
        windows=[tw[i] for i in ids] if tw else None,
        # the depot has no service time (as PyVRP reads a SERVICE_TIME key)
        service=[0.0] + [service.get(i, default_service) for i in ids[1:]],
    )


def scale(rounding: str) -> int:
    return 10 if rounding == "dimacs" else 1


def distance_matrix(inst: VrpInstance, rounding: str) -> list[list[int]]:
    def d(a: tuple[float, float], b: tuple[float, float]) -> int:
        e = math.hypot(a[0] - b[0], a[1] - b[1])
        if rounding == "dimacs":
            return int(10 * e + 1e-9)
        if rounding == "round":
            return int(round(e))
        raise ValueError(f"unknown rounding {rounding!r}")

    return [[d(a, b) for b in inst.coords] for a in inst.coords]


def scaled_windows(inst: VrpInstance, rounding: str) -> tuple[list[tuple[int, int]], list[int]] | None:
    """Windows and service times in the matrix's units (Solomon's are whole numbers, so x10 is exact)."""
    if inst.windows is None:
        return None
    f = scale(rounding)
    return ([(int(round(e * f)), int(round(l * f))) for e, l in inst.windows],
            [int(round(s * f)) for s in inst.service])


@dataclass
class Check:
    cost: float | None  # total distance in the BKS's units, None if the solution is not feasible
    routes: int
    problems: list[str]


def check(inst: VrpInstance, rounding: str, routes: list[list[int]], dist: list[list[int]] | None = None) -> Check:
    """Checks ``routes`` (lists of client locations 1..n-1, depot implicit at both ends)."""
    dist = dist or distance_matrix(inst, rounding)
    routes = [r for r in routes if r]
    problems: list[str] = []
    seen = [0] * inst.n
    for r in routes:
        for c in r:
            if not 1 <= c < inst.n:
                problems.append(f"location {c} is not a client")
            else:
                seen[c] += 1
    missing = [c for c in range(1, inst.n) if seen[c] == 0]
    twice = [c for c in range(1, inst.n) if seen[c] > 1]
    if missing:
        problems.append(f"{len(missing)} clients not visited (e.g. {missing[:5]})")
    if twice:
        problems.append(f"{len(twice)} clients visited more than once (e.g. {twice[:5]})")
    if inst.vehicles is not None and len(routes) > inst.vehicles:
        problems.append(f"{len(routes)} routes for {inst.vehicles} vehicles")
    tws = scaled_windows(inst, rounding)
    total = 0
    for k, r in enumerate(routes):
        if any(not 1 <= c < inst.n for c in r):
            continue
        load = sum(inst.demand[c] for c in r)
        if load > inst.capacity:
            problems.append(f"route {k}: load {load} > capacity {inst.capacity}")
        path = [0, *r, 0]
        total += sum(dist[a][b] for a, b in zip(path, path[1:]))
        if tws is not None:
            windows, service = tws
            t = windows[0][0]  # leave the depot when it opens; waiting is allowed at clients
            for a, b in zip(path, path[1:]):
                t = max(t + service[a] + dist[a][b], windows[b][0])
                if t > windows[b][1]:
                    where = "the depot" if b == 0 else f"client {b}"
                    problems.append(f"route {k}: reaches {where} at {t} > {windows[b][1]}")
                    break
    return Check(cost=None if problems else total / scale(rounding), routes=len(routes), problems=problems)
