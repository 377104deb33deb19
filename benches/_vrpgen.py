"""Seeded generators of Solomon-like VRPTW and X-like CVRP instances (VRPLIB files), for tuning the
routing solver on instances other than the benchmark's.

Solomon-like (after Solomon 1987): 100 clients on a 100 x 100 grid, random (R), clustered (C) or half
and half (RC); short horizon and capacity 200 (type 1) or long horizon and capacity 700-1000 (type 2);
service 10 (R, RC) or 90 (C); a share of the clients with a window of random width around a time at
which a vehicle straight from the depot can serve them, the others with the whole horizon. Every
client can be served alone, so each instance is feasible with enough vehicles (25, as in Solomon's).

X-like (after Uchoa et al. 2017): n clients on a 1000 x 1000 grid, depot central, eccentric or random;
clients random, clustered or half and half; demands unitary, small (1-10), large (50-100) or mixed;
capacity set for an average route of r clients. No fleet limit, as in the X files.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SolomonSpec:
    layout: str  # "R", "C" or "RC"
    kind: int  # 1: short horizon, small capacity; 2: long horizon, large capacity
    density: float  # share of clients with a window
    width: tuple[float, float]  # half-width range of the windows
    seed: int

    @property
    def name(self) -> str:
        return f"G{self.layout}{self.kind}-d{int(100 * self.density)}-w{int(self.width[1])}-s{self.seed}"


@dataclass(frozen=True)
class XSpec:
    n: int
    depot: str  # "central", "eccentric", "random"
    clients: str  # "random", "clustered", "mixed"
    demand: str  # "unit", "small", "large", "mixed"
    route_size: float  # average clients per route
    seed: int

    @property
    def name(self) -> str:
        return f"GX-n{self.n + 1}-{self.depot[0]}{self.clients[0]}{self.demand[0]}-r{int(self.route_size)}-s{self.seed}"


def _clustered(rng: random.Random, count: int, size: float, clusters: int, spread: float) -> list[tuple[float, float]]:
    centres = [(rng.uniform(0.1 * size, 0.9 * size), rng.uniform(0.1 * size, 0.9 * size)) for _ in range(clusters)]
    out = []
    for i in range(count):
        cx, cy = centres[i % clusters]
        out.append((min(size, max(0.0, rng.gauss(cx, spread))), min(size, max(0.0, rng.gauss(cy, spread)))))
    rng.shuffle(out)
    return out


def solomon_like(spec: SolomonSpec) -> str:
    rng = random.Random(spec.seed)
    n = 100
    if spec.layout == "R":
        pts = [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(n)]
    elif spec.layout == "C":
        pts = _clustered(rng, n, 100, 10, 3.0)
    else:
        pts = _clustered(rng, n // 2, 100, 8, 4.0) + [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(n - n // 2)]
    pts = [(float(round(x)), float(round(y))) for x, y in pts]
    depot = (40.0, 50.0) if spec.layout == "C" else (35.0, 35.0)
    service = 90 if spec.layout == "C" else 10
    horizon = {("R", 1): 230, ("C", 1): 1236, ("RC", 1): 240, ("R", 2): 1000, ("C", 2): 3390, ("RC", 2): 960}[
        (spec.layout, spec.kind)]
    capacity = 200 if spec.kind == 1 else (700 if spec.layout == "C" else 1000)
    if spec.layout == "C":
        demand = [10 * rng.randint(1, 5) for _ in range(n)]
    else:
        demand = [rng.randint(1, 41) for _ in range(n)]
    windows = []
    for (x, y) in pts:
        d = math.hypot(x - depot[0], y - depot[1])
        lo, hi = math.ceil(d), math.floor(horizon - service - d)
        if rng.random() < spec.density:
            centre = rng.uniform(lo, hi)
            w = rng.uniform(*spec.width)
            e, l_ = max(0, round(centre - w)), min(hi, round(centre + w))
            windows.append((e, max(l_, lo)))
        else:
            windows.append((0, hi))
    lines = [f"NAME : {spec.name}", "TYPE : CVRPTW", f"DIMENSION : {n + 1}", "VEHICLES : 25", f"CAPACITY : {capacity}",
             f"SERVICE_TIME : {service}", "EDGE_WEIGHT_TYPE : EUC_2D", "NODE_COORD_SECTION"]
    lines += [f"{i + 1} {int(x)} {int(y)}" for i, (x, y) in enumerate([depot, *pts])]
    lines.append("DEMAND_SECTION")
    lines += [f"{i + 1} {q}" for i, q in enumerate([0, *demand])]
    lines.append("TIME_WINDOW_SECTION")
    lines += [f"{i + 1} {e} {l_}" for i, (e, l_) in enumerate([(0, horizon), *windows])]
    lines += ["DEPOT_SECTION", "1", "-1", "EOF"]
    return "\n".join(lines) + "\n"


def x_like(spec: XSpec) -> str:
    rng = random.Random(spec.seed)
    n = spec.n
    depot = {"central": (500.0, 500.0), "eccentric": (0.0, 0.0)}.get(spec.depot) or (rng.uniform(0, 1000), rng.uniform(0, 1000))
    if spec.clients == "random":
        pts = [(rng.uniform(0, 1000), rng.uniform(0, 1000)) for _ in range(n)]
    elif spec.clients == "clustered":
        pts = _clustered(rng, n, 1000, rng.randint(3, 8), 40.0)
    else:
        pts = _clustered(rng, n // 2, 1000, rng.randint(3, 8), 40.0) + [
            (rng.uniform(0, 1000), rng.uniform(0, 1000)) for _ in range(n - n // 2)]
    draw = {"unit": lambda: 1, "small": lambda: rng.randint(1, 10), "large": lambda: rng.randint(50, 100),
            "mixed": lambda: rng.randint(1, 10) if rng.random() < 0.7 else rng.randint(50, 100)}[spec.demand]
    demand = [draw() for _ in range(n)]
    capacity = max(max(demand), math.ceil(spec.route_size * sum(demand) / n))
    k = math.ceil(sum(demand) / capacity)
    lines = [f"NAME : {spec.name}-k{k}", "TYPE : CVRP", f"DIMENSION : {n + 1}", "EDGE_WEIGHT_TYPE : EUC_2D",
             f"CAPACITY : {capacity}", "NODE_COORD_SECTION"]
    lines += [f"{i + 1} {round(x)} {round(y)}" for i, (x, y) in enumerate([depot, *pts])]
    lines.append("DEMAND_SECTION")
    lines += [f"{i + 1} {q}" for i, q in enumerate([0, *demand])]
    lines += ["DEPOT_SECTION", "1", "-1", "EOF"]
    return "\n".join(lines) + "\n"


# The tuning set: 8 Solomon-like and 4 X-like instances, one of each kind the benchmark reports on
# (C1, C2, R1, R2, RC1, RC2; narrow and wide windows; X's depot, client and demand kinds, 100-250 clients).
TUNING_SET: list[SolomonSpec | XSpec] = [
    SolomonSpec("C", 1, 1.0, (20, 60), 101),
    SolomonSpec("C", 2, 1.0, (60, 160), 102),
    SolomonSpec("R", 1, 1.0, (5, 15), 103),
    SolomonSpec("R", 1, 0.5, (15, 60), 104),
    SolomonSpec("R", 2, 0.75, (30, 120), 105),
    SolomonSpec("RC", 1, 1.0, (10, 30), 106),
    SolomonSpec("RC", 2, 0.5, (30, 120), 107),
    SolomonSpec("R", 2, 1.0, (60, 240), 108),
    XSpec(119, "central", "random", "small", 8, 201),
    XSpec(159, "eccentric", "clustered", "mixed", 12, 202),
    XSpec(199, "random", "mixed", "large", 5, 203),
    XSpec(239, "central", "mixed", "unit", 16, 204),
]


def write_tuning_set(folder: Path) -> list[tuple[str, Path, str]]:
    """Writes the tuning set into ``folder``; returns (name, path, rounding) per instance."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for spec in TUNING_SET:
        if isinstance(spec, SolomonSpec):
            text, rounding = solomon_like(spec), "dimacs"
        else:
            text, rounding = x_like(spec), "round"
        name = text.split("\n", 1)[0].split(":", 1)[1].strip()
        path = folder / f"{name}.vrp"
        path.write_text(text)
        out.append((name, path, rounding))
    return out
