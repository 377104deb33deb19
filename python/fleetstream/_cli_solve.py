"""The ``solve`` command: a VRPLIB or Solomon instance file in, its best solution found out as a
VRPLIB ``.sol`` (PyVRP's convention), a one-line summary on stderr.

    fleetstream solve X-n101-k25.vrp --time-limit 10s --output X-n101-k25.sol
"""

from __future__ import annotations

import argparse
import os
import sys

from fleetstream._cli_args import add_parser, positive, seconds


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from fleetstream.routing._vrplib import ROUNDINGS

    solve = add_parser(commands, "solve", "solve a VRPLIB (.vrp) or Solomon (.txt) instance file and write the best "
                                          "solution found in VRPLIB .sol format")
    solve.add_argument("file", metavar="FILE", help="the instance file (.vrp in PyVRP's VRPLIB dialect, or Solomon .txt)")
    solve.add_argument("--time-limit", type=seconds, default="10s",
                       help="how long to search: a duration (500ms, 10s, 1m) or a bare number of seconds")
    solve.add_argument("--seed", type=int, default=1, help="random seed of the search")
    solve.add_argument("--threads", type=positive, default=1,
                       help="independent searches on this many threads; the best is kept")
    solve.add_argument("--round", choices=ROUNDINGS, default="round",
                       help="how distances and times become integers: round (to nearest: X, Augerat), dimacs (x10, "
                            "truncated: Solomon), exact (x1000) or none (truncated), as PyVRP's read does")
    solve.add_argument("--output", "-o", default="-", help="file the solution is written to, - for standard output")
    solve.set_defaults(run=solve_file)


def solve_file(args: argparse.Namespace) -> int:
    """Reads, solves, writes; errors are ``FleetstreamError`` s, which ``main`` prints as one line."""
    import fleetstream as fs
    from fleetstream.exceptions import FleetstreamIOError

    instance = fs.routing.read_vrplib(args.file, round=args.round)
    # opened before the search, so an unwritable path is said at once, not after the time limit
    try:
        output = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    except OSError as error:
        raise FleetstreamIOError(f"cannot write the solution to {args.output}: {error.strerror or error}") from None
    try:
        result = fs.routing.solve(instance, time_limit=args.time_limit, seed=args.seed, threads=args.threads)
        output.write(result.to_vrplib())
        output.flush()
    finally:
        if output is not sys.stdout:
            output.close()
    served = sum(len(route) for route in result.routes)
    print(f"{instance.name}: cost {result.cost:.6g}, {result.num_routes} routes, {served}/{instance.num_clients} clients, "
          f"feasible: {result.feasible}; {result.iterations} iterations in {result.runtime:.1f} s"
          + ("" if args.output == "-" else f"; written to {os.fspath(args.output)}"), file=sys.stderr)
    for line in result.violations:
        print(f"  {line}", file=sys.stderr)
    return 0
