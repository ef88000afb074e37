"""`record`: tlsprobe's frozen dataclass, made without compiling six methods for each class.

Why: `dataclass` writes each method it adds as source text and compiles it (exec) when the class
is made. For a frozen class that is six compilations (__init__, __setattr__, __delattr__,
__eq__, __hash__, __repr__) and, for a class without a docstring, a signature to write one: 2.3M
instructions a class (callgrind), about 70M of every run's start-up for the 30 records a check
loads. Here only __init__ is compiled, from the fields as `dataclass` found them, in the
class's module as dataclass's own is (its annotations resolve there); the frozen
__setattr__ and __delattr__, equality, hash and repr are closures made from the fields once, with
dataclass's own meaning (fields with compare=False are neither compared nor hashed, fields with
repr=False not shown, assignment raises FrozenInstanceError). What a dataclass is (fields(),
replace(), __match_args__) is still `dataclasses`' own; its __dataclass_params__ say what it was
asked for (no __init__, not frozen), so a record inherits from records only, not from a plain
frozen dataclass, nor one from it. A record without a docstring has its name as its docstring.
What dataclass(frozen=True) refuses is refused alike (a class's own __setattr__, a field without
a default after one with); kw_only fields and InitVar are refused too: no record has them, and
this __init__ does not write them. A ClassVar is a class attribute, as for dataclass.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field, fields
from typing import Any, TypeVar, cast, dataclass_transform

T = TypeVar("T", bound=type)


class _Factory:
    """The default of an argument whose field has a default_factory, shown as dataclass's."""

    def __repr__(self) -> str:
        return "<factory>"


FACTORY = _Factory()


@dataclass_transform(frozen_default=True, eq_default=True, field_specifiers=(field, Field))
def record(cls: T) -> T:
    """A frozen dataclass of `cls`, equal and hashed by its compared fields, shown by its
    shown fields; a method the class writes itself (a repr that hides secrets) is kept."""
    if not cls.__dict__.get("__doc__"):
        cls.__doc__ = cls.__name__  # dataclass would write a signature, at a cost
    made: Any = dataclass(init=False, eq=False, repr=False)(cls)
    every = fields(made)
    _refuse_what_init_does_not_write(made, every)
    if "__init__" not in vars(cls):
        made.__init__ = _init(made, every)
    made.__setattr__, made.__delattr__ = _frozen(made, frozenset(f.name for f in every))
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


def _refuse_what_init_does_not_write(cls: type, every: tuple[Field[Any], ...]) -> None:
    """What dataclass(frozen=True) refuses too (a class's own __setattr__), and what this
    __init__ does not write: InitVar and kw_only fields (ClassVar ones are no fields at all)."""
    for name in ("__setattr__", "__delattr__"):
        if name in vars(cls):
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    pseudo = [f for name, f in vars(cls)["__dataclass_fields__"].items() if f not in every]
    unwritten = [f.name for f in pseudo if "InitVar" in str(f.type)]
    unwritten += [f.name for f in every if f.kw_only is True]
    if unwritten:
        raise TypeError(f"record {cls.__name__}: no InitVar or kw_only field ({unwritten})")


def _init(cls: type, every: tuple[Field[Any], ...]) -> Callable[..., None]:
    """The __init__ dataclass(frozen=True) writes: each field set with object.__setattr__, in
    order, from its argument, default or default_factory; then __post_init__, if any. Made in
    the class's module, as dataclass's is, so that its annotations resolve there."""
    helpers: dict[str, Any] = {"__set": object.__setattr__, "__factory_default": FACTORY}
    me = "__dataclass_self__" if any(f.name == "self" for f in every) else "self"
    arguments, lines, defaulted = [], [], False
    for number, f in enumerate(every):
        default, factory = f"__default_{number}", f"__factory_{number}"
        helpers[default], helpers[factory] = f.default, f.default_factory
        if f.default is not MISSING:
            if not f.init:
                continue  # read from the class attribute, as dataclass leaves it
            argument, value = f"{f.name}={default}", f.name
        elif f.default_factory is not MISSING:
            argument = f"{f.name}=__factory_default"
            value = (
                f"{factory}() if {f.name} is __factory_default else {f.name}"
                if f.init
                else f"{factory}()"
            )
        elif f.init:
            if defaulted:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            argument, value = f.name, f.name
        else:
            continue  # no value: the attribute stays unset, as dataclass leaves it
        if f.init:
            arguments.append(argument)
            defaulted = defaulted or argument != f.name
        lines.append(f"__set({me}, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        lines.append(f"{me}.__post_init__()")
    text = "\n".join(
        [
            f"def __make__({', '.join(helpers)}):",
            f"  def __init__({', '.join([me, *arguments])}):",
            *(f"    {line}" for line in lines or ["pass"]),
            "  return __init__",
        ]
    )
    module = sys.modules.get(cls.__module__)
    made: dict[str, Any] = {}
    # A text made here from the class's own field names, run in its module's namespace.
    exec(text, vars(module) if module is not None else {}, made)
    init: Callable[..., None] = made["__make__"](**helpers)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {f.name: f.type for f in every if f.init} | {"return": None}
    return init


def _frozen(
    cls: type[Any], names: frozenset[str]
) -> tuple[Callable[..., None], Callable[..., None]]:
    """dataclass's frozen __setattr__ and __delattr__: a record's fields, and any attribute of
    the record's own class, cannot be assigned or deleted."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__
