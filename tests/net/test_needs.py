"""A test that needs what the machine may lack (::1, a link-local address) is skipped saying
so, except under CI=true, where it fails saying what is missing."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
from netservers import needs


def a_test() -> Callable[..., None]:
    """A fresh stand-in test with fixtures (marks are set on the function itself)."""

    def probe_test(on_loop: object, port: int) -> None:
        pass

    return probe_test


def test_an_available_need_leaves_the_test_alone() -> None:
    """With what it needs, the test is the same function, unmarked."""
    test = a_test()
    assert needs(True, "no ::1 on this machine", env={"CI": "true"})(test) is test
    assert not hasattr(test, "pytestmark")


def test_a_missing_need_skips_outside_ci() -> None:
    """Outside CI, a missing need marks the test skipped with the reason given."""
    marked = needs(False, "no ::1 on this machine", env={})(a_test())
    (mark,) = marked.pytestmark  # type: ignore[attr-defined]
    assert (mark.name, mark.kwargs) == ("skip", {"reason": "no ::1 on this machine"})


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes"])
def test_a_missing_need_fails_under_ci(value: str) -> None:
    """Under CI=true the test fails, naming what is missing, and keeps its fixtures."""
    test = a_test()
    failing = needs(False, "no ::1 on this machine", env={"CI": value})(test)
    assert inspect.signature(failing) == inspect.signature(test)
    assert not hasattr(failing, "pytestmark")
    with pytest.raises(pytest.fail.Exception, match=r"^CI=true and this test cannot run: no ::1"):
        failing(on_loop=None, port=1)


def test_ci_false_is_not_ci() -> None:
    """CI=false (or empty) is outside CI: the test is skipped, not failed."""
    for value in ("false", "0", ""):
        marked = needs(False, "no ::1 on this machine", env={"CI": value})(a_test())
        assert marked.pytestmark[0].name == "skip"  # type: ignore[attr-defined]
