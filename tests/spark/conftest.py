"""One SparkSession for the whole Spark test package: local[2], 4 shuffle partitions, UI off, UTC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# pyspark is a test requirement (requirements-test.txt): a missing install fails here, never skips.
import pyspark  # noqa: F401


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """Fails (never skips) when Spark cannot start, e.g. no Java: the error says why."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("fleetstream-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
