"""The examples in fleetstream.spark's docstrings, run for real with the session's SparkSession
(tests/test_docs.py runs the same docstrings without Spark, where these lines are marked +SKIP)."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

import fleetstream.spark

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


def test_docstring_examples_with_spark(spark: Any) -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(fleetstream.spark, globs={"spark": spark})
    for test in tests:
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 15  # nothing skipped: every example ran against Spark
    assert result.failed == 0
