"""Every public callable of ``fleetstream`` and ``fleetstream.routing`` (and each public method or
property of their classes) says what it does: ``help()`` shows a docstring, never nothing or the
developer comment that happens to sit above the definition."""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterator
from typing import Any

import pytest

import fleetstream

MODULES = [fleetstream, fleetstream.routing]

#: Public callables allowed to lack a docstring for a while (none today); an entry must be removed
#: once its docstring lands (``test_pending_entries_still_lack_a_docstring`` fails until then).
PENDING: set[str] = set()

_NATIVE_MEMBERS = (types.BuiltinFunctionType, types.MethodDescriptorType, types.GetSetDescriptorType,
                   types.ClassMethodDescriptorType)


def _doc_of(member: Any) -> str | None:
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, (property, types.FunctionType, *_NATIVE_MEMBERS)):
        return member.__doc__ or ""
    return None  # data: a class attribute, a dataclass field default


def public_callables() -> Iterator[tuple[str, str]]:
    """(qualified name, docstring) of every public callable, method and property."""
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            qualified = f"{module.__name__}.{name}"
            yield qualified, obj.__doc__ or ""
            if not inspect.isclass(obj):
                continue
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                doc = _doc_of(member)
                if doc is not None:
                    yield f"{qualified}.{attr}", doc


def test_the_walk_finds_the_api() -> None:
    names = {name for name, _ in public_callables()}
    assert {"fleetstream.routing.solve", "fleetstream.routing.Model.add_client", "fleetstream.routing.Result.stops",
            "fleetstream.routing.Result.routes", "fleetstream.WindowAggregator"} <= names


def test_every_public_callable_has_a_docstring() -> None:
    missing = sorted(name for name, doc in public_callables() if not doc.strip() and name not in PENDING)
    assert missing == [], f"no docstring: {', '.join(missing)}"


def test_pending_entries_still_lack_a_docstring() -> None:
    documented = sorted(name for name, doc in public_callables() if name in PENDING and doc.strip())
    assert documented == [], f"documented now, remove from PENDING: {', '.join(documented)}"


@pytest.mark.parametrize("name", ["fleetstream.routing.Result", "fleetstream.routing.Model"])
def test_help_shows_no_developer_comments(name: str) -> None:
    import pydoc
    module, _, attr = name.rpartition(".")
    text = pydoc.render_doc(getattr(__import__(module, fromlist=[attr]), attr), renderer=pydoc.plaintext)
    assert "# --" not in text
