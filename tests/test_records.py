"""tlsprobe.records.record: a frozen dataclass whose equality, hash and repr are shared closures,
held to what dataclasses.dataclass(frozen=True) itself does on the same class."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import field

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
