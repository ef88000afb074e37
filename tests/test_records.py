"""tlsprobe.records.record: a frozen dataclass whose equality, hash and repr are shared closures,
held to what dataclasses.dataclass(frozen=True) itself does on the same class."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing
from collections.abc import Callable
from dataclasses import field
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlsprobe.records import record


@record
class Mine:
    name: str
    port: int = 0
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@dataclasses.dataclass(frozen=True)
class Theirs:
    name: str
    port: int = 0
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@record
class Hidden:
    """A record that writes its own repr keeps it."""

    value: str

    def __repr__(self) -> str:
        return "Hidden(***)"


@record
class Single:
    value: str


values = st.tuples(
    st.text(max_size=5), st.integers(-3, 3), st.text(max_size=3), st.text(max_size=3)
)


@given(values, values)
def test_equality_and_hash_are_the_dataclass_own(a: tuple, b: tuple) -> None:  # type: ignore[type-arg]
    """Two records are equal exactly when the dataclass twins are, and equal ones hash alike."""
    assert (Mine(*a) == Mine(*b)) is (Theirs(*a) == Theirs(*b))
    assert (Mine(*a) != Mine(*b)) is (Theirs(*a) != Theirs(*b))
    if Mine(*a) == Mine(*b):
        assert hash(Mine(*a)) == hash(Mine(*b))


@given(values)
def test_repr_is_the_dataclass_own(a: tuple) -> None:  # type: ignore[type-arg]
    """The repr names the class and its shown fields exactly as dataclass writes it."""
    assert repr(Mine(*a)) == repr(Theirs(*a)).replace("Theirs(", "Mine(", 1)


def test_fields_not_compared_are_ignored_and_others_are_not() -> None:
    """note (compare=False) does not make two records differ; port does."""
    assert Mine("a", 1, note="x") == Mine("a", 1, note="y")
    assert Mine("a", 1) != Mine("a", 2)
    assert hash(Mine("a", 1, note="x")) == hash(Mine("a", 1, note="y"))


def test_another_class_with_the_same_fields_is_never_equal() -> None:
    """Equality asks for the same class, as dataclass's does."""
    assert Mine("a") != Theirs("a")
    assert Mine("a").__eq__(Theirs("a")) is NotImplemented


def test_a_record_is_frozen_and_still_a_dataclass() -> None:
    """Assignment fails as on any frozen dataclass; fields, replace and pickling work."""
    mine = Mine("a", 1, secret="s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        mine.port = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del mine.port  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(mine)] == ["name", "port", "note", "secret"]
    assert dataclasses.replace(mine, port=3) == Mine("a", 3, secret="s")
    assert pickle.loads(pickle.dumps(mine)) == mine
    assert Mine.__match_args__ == ("name", "port", "note", "secret")


def test_a_repr_the_class_writes_is_kept_and_one_field_works() -> None:
    """Hidden keeps its own repr (a secret stays out); a one-field record compares and hashes
    by that field."""
    assert repr(Hidden("password")) == "Hidden(***)"
    assert Single("a") == Single("a")
    assert Single("a") != Single("b")
    assert hash(Single("a")) == hash(Single("a"))
    assert {Single("a"): 1}[Single("a")] == 1


# --- __init__ and frozenness, made without dataclass's compiled methods ----------------------

_made: list[str] = []


def _note(self: object) -> None:
    _made.append(type(self).__name__)


def _full(label: str, make: Callable[[type], Any]) -> Any:
    """The same class, made by `make`: defaults, factories, init=False fields, __post_init__."""

    class Full:
        name: str
        port: int = 5432
        tags: list[str] = field(default_factory=list)
        kind: str = field(default="tcp", init=False)
        seen: list[str] = field(default_factory=lambda: ["x"], init=False)
        unset: str = field(init=False)

        def __post_init__(self) -> None:
            _note(self)

    Full.__name__ = Full.__qualname__ = label
    return make(Full)


MineFull = _full("MineFull", record)
TheirsFull = _full("TheirsFull", dataclasses.dataclass(frozen=True))


def _state(value: object) -> dict[str, object]:
    return dict(vars(value))


def test_init_takes_and_sets_what_the_dataclass_init_does() -> None:
    """Same signature; defaults, fresh default_factory values, init=False fields (set from
    their default or factory, or left unset) and __post_init__, as dataclass's own __init__."""
    assert str(inspect.signature(MineFull)) == str(inspect.signature(TheirsFull))
    _made.clear()
    for args, kwargs in [(("db",), {}), (("db", 1, ["a"]), {}), ((), {"name": "n", "tags": []})]:
        assert _state(MineFull(*args, **kwargs)) == _state(TheirsFull(*args, **kwargs))
    assert _made == ["MineFull", "TheirsFull"] * 3
    assert MineFull("a").tags is not MineFull("a").tags
    assert MineFull("a").seen is not MineFull("a").seen
    assert not hasattr(MineFull("a"), "unset")
    assert not hasattr(TheirsFull("a"), "unset")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), (("a", 1, [], "extra"), {}), (("a",), {"kind": "udp"}), (("a",), {"name": "b"})],
)
def test_a_wrong_call_fails_as_the_dataclass_init_does(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """Missing, surplus, init=False and repeated arguments raise dataclass's TypeError."""
    with pytest.raises(TypeError) as theirs:
        TheirsFull(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError) as mine:
        MineFull(*args, **kwargs)  # type: ignore[arg-type]
    assert str(mine.value) == str(theirs.value).replace("TheirsFull", "MineFull")


class Plain(Mine):
    """Not a record: a subclass may add attributes, never assign fields, as with dataclass."""


@record
class Child(Mine):
    extra: str = ""


def test_frozen_as_dataclass_is_for_its_class_and_subclasses() -> None:
    """No new attribute on a record itself; a plain subclass may add one but not assign a
    field; a record of a record has both field lists and is frozen."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        Mine("a").other = 1  # type: ignore[attr-defined]
    plain = Plain("a")
    plain.other = 1  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.name = "b"  # type: ignore[misc]
    child = Child("a", 2, extra="e")
    assert [f.name for f in dataclasses.fields(child)] == [
        "name",
        "port",
        "note",
        "secret",
        "extra",
    ]
    assert child == Child("a", 2, extra="e") != Child("a", 2, extra="f")
    with pytest.raises(dataclasses.FrozenInstanceError):
        child.extra = "x"  # type: ignore[misc]


@record
class Holder:
    item: Single
    count: ClassVar[int] = 0  # a class attribute, as for dataclass: no field


@dataclasses.dataclass(frozen=True)
class TheirHolder:
    item: Single
    count: ClassVar[int] = 0


def test_init_annotations_resolve_in_the_class_module_as_dataclass_ones_do() -> None:
    """The __init__ is made in the class's module: its string annotations resolve there
    (typing.get_type_hints, inspect.signature(eval_str=True)), and a ClassVar is no field."""
    assert typing.get_type_hints(Holder.__init__) == typing.get_type_hints(TheirHolder.__init__)
    assert str(inspect.signature(Holder, eval_str=True)) == str(
        inspect.signature(TheirHolder, eval_str=True)
    )
    assert Holder.__init__.__module__ == TheirHolder.__init__.__module__ == __name__
    assert [f.name for f in dataclasses.fields(Holder)] == ["item"]


@pytest.mark.parametrize("make", [record, dataclasses.dataclass(frozen=True)])
def test_class_definitions_dataclass_refuses_are_refused_alike(make: Callable[[type], Any]) -> None:
    """A class's own __setattr__, and a field without a default after one with, raise the
    same TypeError from record as from dataclass; a field named self works in both."""

    class OwnSetattr:
        port: int

        def __setattr__(self, name: str, value: object) -> None:
            object.__setattr__(self, name, value)

    class DefaultFirst:
        port: int = 0
        host: str

    class NamedSelf:
        self: str
        other: int = 1

    with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__ in class"):
        make(OwnSetattr)
    with pytest.raises(TypeError, match="non-default argument 'host' follows default argument"):
        make(DefaultFirst)
    made = make(NamedSelf)
    assert (made("me").self, made(self="you").other) == ("me", 1)


def test_what_its_init_does_not_write_is_refused() -> None:
    """An InitVar or a kw_only field is a TypeError when the class is made, not a wrong init."""
    with pytest.raises(TypeError, match="no InitVar"):

        @record
        class WithInitVar:
            seed: dataclasses.InitVar[int]

    with pytest.raises(TypeError, match="kw_only"):

        @record
        class WithKwOnly:
            port: int = field(default=0, kw_only=True)


def test_a_record_without_a_docstring_is_named_by_it() -> None:
    """dataclass would build a signature for the docstring; a record's is its name."""
    assert Single.__doc__ == "Single"
    assert Hidden.__doc__ == "A record that writes its own repr keeps it."
