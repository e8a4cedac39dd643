"""`@frozen`: a class as `@dataclass(frozen=True, slots=True)` makes it, cheap to define.

Why it exists: `@dataclass` writes six methods of every class as Python
source and compiles each with exec() (__init__, __repr__, __eq__, __hash__,
__setattr__, __delattr__): ~0.35 ms a class in CPython 3.11. kit defines
over a hundred such classes, and compiling their methods was ~37 ms of the
~60 ms every kit command spent importing itself, before doing anything
(measured on `kit render`; docs/performance.md). `@frozen` lets dataclasses
collect the fields (so `fields()`, `asdict()`, `replace()` and mypy see an
ordinary frozen dataclass) and gives the class methods made from closures
here, the same for every class, with the same behaviour: built from
positional or keyword arguments and defaults, equal to and hashing as its
fields when of the same class, shown as `Name(field=value, ...)`, refusing
attribute assignment and deletion (FrozenInstanceError), picklable.

The price: an instance takes ~2 us to build instead of ~0.5 us (its
arguments are bound at run time). So the records parsers build by the
thousand (kit.records, kit.parsers) stay `@dataclass(frozen=True,
slots=True)`; `@frozen` is for the facts an analysis makes a few of, and
for classes built once per command. Supported: fields with or without a
default or default_factory; not init=False, kw_only or InitVar fields, nor
__post_init__ (refused when the class is defined).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # how mypy learns that @frozen makes a frozen dataclass (PEP 681)
    from typing_extensions import dataclass_transform
else:  # at run time the marker does nothing

    def dataclass_transform(**_: object) -> Callable[[T], T]:
        return lambda decorator: decorator


T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def frozen(cls: type[T]) -> type[T]:
    """The class as @dataclass(frozen=True, slots=True) would make it (see the module's docstring)."""
    if not cls.__doc__:  # else dataclass() writes one from inspect.signature(): ~0.1 ms a class
        cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', {}))})"
    made: type[T] = dataclass(init=False, repr=False, eq=False, slots=True)(cls)
    spec = fields(made)  # type: ignore[arg-type]
    for f in spec:
        if not f.init or f.kw_only is True:
            raise TypeError(f"@frozen {cls.__qualname__}.{f.name}: init=False and kw_only fields are not supported")
    if hasattr(made, "__post_init__"):
        raise TypeError(f"@frozen {cls.__qualname__}: __post_init__ is not supported")
    names = tuple(f.name for f in spec)
    compared = tuple(f.name for f in spec if f.compare)
    hashed = tuple(f.name for f in spec if (f.compare if f.hash is None else f.hash))
    shown = tuple(f.name for f in spec if f.repr)
    defaults = {f.name: f.default for f in spec if f.default is not MISSING}
    factories = {f.name: f.default_factory for f in spec if f.default_factory is not MISSING}
    setter = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(
                f"{cls.__qualname__}.__init__() takes {len(names) + 1} positional arguments "
                f"but {len(args) + 1} were given"
            )
        for name, value in zip(names, args, strict=False):
            setter(self, name, value)
        for name in names[len(args) :]:
            if name in kwargs:
                setter(self, name, kwargs.pop(name))
            elif name in defaults:
                setter(self, name, defaults[name])
            elif name in factories:
                setter(self, name, factories[name]())
            else:
                raise TypeError(f"{cls.__qualname__}.__init__() missing required argument: {name!r}")
        if kwargs:
            word = next(iter(kwargs))
            if word in names:
                raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument {word!r}")
            raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument {word!r}")

    def __repr__(self: Any) -> str:
        shown_fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{type(self).__qualname__}({shown_fields})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        # tuples, as @dataclass compares: an item is equal to itself first (NaN too)
        return tuple([getattr(self, name) for name in compared]) == tuple([getattr(other, name) for name in compared])

    def __hash__(self: Any) -> int:
        return hash(tuple([getattr(self, name) for name in hashed]))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is made or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        setter(self, name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is made or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    def __getstate__(self: Any) -> list[Any]:
        return [getattr(self, name) for name in names]

    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=True):
            setter(self, name, value)

    methods: dict[str, Callable[..., Any]] = {
        "__init__": __init__,
        "__repr__": __repr__,
        "__eq__": __eq__,
        "__hash__": __hash__,
        "__setattr__": __setattr__,
        "__delattr__": __delattr__,
        "__getstate__": __getstate__,
        "__setstate__": __setstate__,
    }
    own = cls.__dict__
    # The class's own __repr__, __eq__ or __hash__ stays, as @dataclass keeps it (a class
    # body that defines __eq__ gets __hash__ = None from Python: not a __hash__ of its own).
    kept = {name for name in ("__repr__", "__eq__") if name in own}
    if own.get("__hash__", MISSING) is not MISSING and not (own["__hash__"] is None and "__eq__" in own):
        kept.add("__hash__")
    for method_name, method in methods.items():
        if method_name in kept:
            continue
        method.__qualname__ = f"{cls.__qualname__}.{method_name}"
        setattr(made, method_name, method)
    return made
