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
    the file's convention (10 for ``dimacs``, 1000 for ``exact``, else 1)."""

    name: str
    problem: _core.RoutingProblem
    scale: int
    path: str

    @property
    def num_clients(self) -> int:
        return self.problem.num_clients

    @property
    def num_depots(self) -> int:
        return self.problem.num_depots


def read_vrplib(path: str | os.PathLike[str], round: str = "round") -> Instance:
    """Reads a VRPLIB (``.vrp``) or Solomon (``.txt``) instance.

    ``round``: ``"round"`` (nearest integer: X, Augerat), ``"dimacs"`` (x10, truncated: Solomon as in
    the DIMACS challenge), ``"exact"`` (x1000, rounded) or ``"none"`` (truncated). A malformed file
    raises ``ParseError`` naming the line.
    """
    if round not in ROUNDINGS:
        raise ConfigError(f"round must be one of {', '.join(ROUNDINGS)}; got {round!r}")
    problem, name, scale = _core.read_vrplib(os.fspath(path), round)
    return Instance(name=name or os.path.splitext(os.path.basename(path))[0], problem=problem, scale=scale, path=os.fspath(path))
