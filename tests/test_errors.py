"""Errors reach Python typed: a panic inside a native call (a broken invariant) becomes
``fleetstream.InternalError`` naming the call, never pyo3's ``PanicException`` (a BaseException
that ``except Exception`` does not catch)."""

from __future__ import annotations

import pytest

import fleetstream as fs
from fleetstream import _core


def test_a_panic_in_native_code_is_an_internal_error_naming_the_call() -> None:
    with pytest.raises(fs.InternalError) as caught:
        _core._panic_in_native_call("slot 7 of 3")
    message = str(caught.value)
    assert "_panic_in_native_call" in message and "slot 7 of 3" in message and "bug in fleetstream" in message
    assert isinstance(caught.value, fs.FleetstreamError) and isinstance(caught.value, Exception)


def test_the_process_goes_on_after_an_internal_error() -> None:
    for _ in range(3):
        with pytest.raises(fs.InternalError):
            _core._panic_in_native_call("again")
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), aggs={"n": fs.count()})
    agg.push({"ts": [1, 2]})
    assert agg.flush()["n"].to_pylist() == [2]
