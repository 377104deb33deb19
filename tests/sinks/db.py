"""Read back what a sink wrote, with the standard clients (sqlite3, psycopg), not the sink's code."""

from __future__ import annotations

import sqlite3
from typing import Any


def query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    if dsn.startswith("sqlite://"):
        path = dsn[len("sqlite:///"):]
        with sqlite3.connect(path) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def execute(dsn: str, sql: str) -> None:
    if dsn.startswith("sqlite://"):
        with sqlite3.connect(dsn[len("sqlite:///"):]) as conn:
            conn.execute(sql)
        return
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)
