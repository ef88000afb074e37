"""`record`: tlsprobe's frozen dataclass, with the equality, hash and repr every one of them
shares instead of three compiled for each class.

Why: `dataclass` writes each method it adds as source text and compiles it (exec) when the class
is made. For a frozen class that is six compilations (__init__, __setattr__, __delattr__,
__eq__, __hash__, __repr__), and at start-up Python's parser and compiler were about 3 % of a
100-target run's instructions (callgrind), nearly all of it for tlsprobe's 40 frozen classes.
Equality, hash and repr need no code of their own per class: here they are made from the
class's fields once, as closures over C-level attribute getters, with dataclass's own meaning
(fields with compare=False are neither compared nor hashed, fields with repr=False not shown).
What a frozen dataclass is (fields(), replace(), the frozen __setattr__, __init__,
__match_args__) is still `dataclasses`' own.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from typing import Any, TypeVar, cast, dataclass_transform

T = TypeVar("T", bound=type)


@dataclass_transform(frozen_default=True, eq_default=True, field_specifiers=(field, Field))
def record(cls: T) -> T:
    """A frozen dataclass of `cls`, equal and hashed by its compared fields, shown by its
    shown fields; a method the class writes itself (a repr that hides secrets) is kept."""
    made: Any = dataclass(frozen=True, eq=False, repr=False)(cls)
    every = fields(made)
    compared = _getter([f.name for f in every if f.compare])
    hashed = _getter([f.name for f in every if (f.compare if f.hash is None else f.hash)])
    shown = tuple(f.name for f in every if f.repr)
    own = vars(made)
    if "__eq__" not in own:
        made.__eq__ = _equal(compared)
    if "__hash__" not in own or own["__hash__"] is None:
        made.__hash__ = _hash(hashed)
    if "__repr__" not in own:
        made.__repr__ = _repr(shown)
    return cast(T, made)


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The named fields' values as a tuple (attrgetter gives a bare value for one name)."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda value: (one(value),)
    return operator.attrgetter(*names)


def _equal(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__
