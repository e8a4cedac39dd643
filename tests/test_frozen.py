"""kit.frozen.frozen behaves as @dataclass(frozen=True, slots=True) does, for every use kit makes of it."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
from dataclasses import dataclass, field

import pytest

from kit.frozen import frozen


def _pair():
    """The same class twice: once by @frozen, once by @dataclass(frozen=True, slots=True)."""

    @frozen
    class Fact:
        """A fact."""

        name: str
        count: int
        owners: tuple[str, ...] = ()
        share: float | None = None
        notes: list[str] = field(default_factory=list)
        secret: str = field(default="", repr=False)

    @dataclass(frozen=True, slots=True)
    class Twin:
        """A fact."""

        name: str
        count: int
        owners: tuple[str, ...] = ()
        share: float | None = None
        notes: list[str] = field(default_factory=list)
        secret: str = field(default="", repr=False)

    return Fact, Twin


CALLS = [
    (("a", 1), {}),
    (("a",), {"count": 2}),
    ((), {"name": "b", "count": 3, "owners": ("x", "y"), "share": 0.5}),
    (("c", 4, ("z",), math.nan, ["n"], "pw"), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_same_values_repr_eq_hash_as_dataclass(args, kwargs):
    fact_cls, twin_cls = _pair()
    fact, twin = fact_cls(*args, **kwargs), twin_cls(*args, **kwargs)
    assert dataclasses.asdict(fact) == dataclasses.asdict(twin) or math.isnan(fact.share)
    assert repr(fact).replace("Fact", "Twin") == repr(twin)
    assert "pw" not in repr(fact)  # repr=False is kept
    again = fact_cls(*args, **kwargs)
    assert (fact == again) == (twin == twin_cls(*args, **kwargs))
    assert fact == fact  # NaN inside: equal to itself, as a dataclass is (tuple comparison)
    assert fact != twin  # another class: never equal
    with pytest.raises(TypeError):  # a list field makes both unhashable
        hash(twin)
    with pytest.raises(TypeError):
        hash(fact)
    assert dataclasses.fields(fact_cls) and [f.name for f in dataclasses.fields(fact_cls)] == [
        f.name for f in dataclasses.fields(twin_cls)
    ]
    assert fact_cls.__slots__ == twin_cls.__slots__


def test_unequal_when_a_field_differs_and_hash_follows_fields():
    @frozen
    class Point:
        x: int
        y: str = "y"

    @dataclass(frozen=True, slots=True)
    class Twin:
        x: int
        y: str = "y"

    assert Point(1) != Point(2) and Point(1, "a") != Point(1, "b")
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert hash(Point(3, "z")) == hash(Twin(3, "z"))  # the hash of the fields' tuple, as @dataclass


def test_frozen_and_slotted():
    fact_cls, _ = _pair()
    fact = fact_cls("a", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fact.count = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del fact.count  # type: ignore[misc]
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError)):
        fact.other = 1  # type: ignore[attr-defined]
    assert not hasattr(fact, "__dict__")


def test_replace_copy_and_pickle():
    fact_cls, _ = _pair()
    globals()["Fact"] = fact_cls  # pickle finds classes by module and name
    fact_cls.__qualname__ = "Fact"
    try:
        fact = fact_cls("a", 1, ("o",), 0.25, ["n"], "pw")
        assert dataclasses.replace(fact, count=5) == fact_cls("a", 5, ("o",), 0.25, ["n"], "pw")
        assert copy.copy(fact) == fact and copy.deepcopy(fact) == fact
        assert pickle.loads(pickle.dumps(fact)) == fact
    finally:
        del globals()["Fact"]


def test_default_factory_gives_each_instance_its_own():
    fact_cls, _ = _pair()
    one, two = fact_cls("a", 1), fact_cls("b", 2)
    assert one.notes == [] and one.notes is not two.notes


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((), {"name": "a"}, "missing required argument: 'count'"),
        (("a", 1, (), None, [], "", "extra"), {}, "positional arguments"),
        (("a", 1), {"nope": 1}, "unexpected keyword argument 'nope'"),
        (("a", 1), {"name": "b"}, "multiple values for argument 'name'"),
    ],
)
def test_wrong_calls_are_type_errors(args, kwargs, says):
    fact_cls, twin_cls = _pair()
    with pytest.raises(TypeError, match=says):
        fact_cls(*args, **kwargs)
    with pytest.raises(TypeError):
        twin_cls(*args, **kwargs)


def test_own_methods_are_kept_and_unsupported_fields_refused():
    @frozen
    class Shown:
        value: int

        def __repr__(self) -> str:
            return "shown"

    assert repr(Shown(1)) == "shown" and Shown(1) == Shown(1) and hash(Shown(1)) == hash(Shown(1))

    with pytest.raises(TypeError, match="not supported"):

        @frozen
        class Hidden:
            value: int = field(default=0, init=False)

    with pytest.raises(TypeError, match="__post_init__"):

        @frozen
        class Checked:
            value: int

            def __post_init__(self) -> None:
                pass
