"""The examples in the docstrings of fleetstream.spark and its modules, run for real with the session's SparkSession
(tests/test_docs.py runs the same docstrings without Spark, where these lines are marked +SKIP)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from typing import Any

import pytest

import fleetstream.spark

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


def test_docstring_examples_with_spark(spark: Any) -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    names = ["fleetstream.spark"] + [m.name for m in pkgutil.iter_modules(fleetstream.spark.__path__, "fleetstream.spark.")]
    tests = [t for name in names for t in finder.find(importlib.import_module(name), globs={"spark": spark})]
    for test in tests:
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 15  # nothing skipped: every example ran against Spark
    assert result.failed == 0
