"""JSON, YAML and TOML read with bounds: a document nested deeper than MAX_DEPTH is refused
before its parser recurses into it (each of the three recurses per level and would end in a
RecursionError), and one whose walk visits more than MAX_NODES values (YAML aliases can make a
few lines stand for a billion) is refused before anything iterates it. Sizes are bounded where
files are read (sources.MAX_BYTES)."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from typing import TYPE_CHECKING, Any

from tlsprobe.failures import UsageError

if TYPE_CHECKING:
    import yaml

MAX_DEPTH = 32
MAX_NODES = 100_000
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
# Strings (whose brackets do not nest) and brackets; anything else is skipped.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_TOML_TOKENS = re.compile(
    r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]',
    re.DOTALL,
)


def json_value(text: str) -> Any:
    """A JSON document; UsageError (a short phrase) when it is not one or exceeds the bounds."""
    _check_nesting(text, _JSON_TOKENS)
    try:
        value = json.loads(text)
    except RecursionError:  # unreachable past _check_nesting; kept as the last line of defence
        raise UsageError(_TOO_DEEP) from None
    except ValueError as exc:  # JSONDecodeError, and int() refusing a 5,000-digit number
        raise UsageError(f"not valid JSON ({_reason(exc)})") from None
    check_walk(value)
    return value


def toml_document(text: str) -> dict[str, Any]:
    _check_nesting(text, _TOML_TOKENS)
    try:
        document = tomllib.loads(text)
    except RecursionError:
        raise UsageError(_TOO_DEEP) from None
    except ValueError as exc:  # TOMLDecodeError, and int() refusing a 5,000-digit number
        raise UsageError(f"not valid TOML ({_reason(exc)})") from None
    check_walk(document)  # dotted keys (a.b.c...) nest without brackets
    return document


def yaml_value(text: str) -> Any:
    import yaml  # only for YAML exports: it costs 25 ms at start-up

    loader = None
    try:
        loader = _loader_class()(text)  # it starts reading: a bad character fails here
        value = loader.get_single_data()
    except RecursionError:
        raise UsageError(_TOO_DEEP) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise UsageError(f"not valid YAML ({where}{exc.problem})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"not valid YAML ({_first_line(exc)})") from None
    except ValueError as exc:  # a constructor's int() or date(): 5,000 digits, 30 February
        raise UsageError(f"not valid YAML ({_reason(exc)})") from None
    finally:
        if loader is not None:
            loader.dispose()
    check_walk(value)
    return value


def _loader_class() -> type[yaml.SafeLoader]:
    """PyYAML's safe loader, counting depth as it composes: its composer recurses per level."""
    import yaml

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise UsageError(_TOO_DEEP)
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return Loader


def check_walk(value: Any) -> None:
    """Walk a parsed document without recursion, counting every visit (a YAML alias is visited
    each time it is used): UsageError past MAX_DEPTH levels or MAX_NODES visits."""
    stack = [(value, 1)]
    visits = 0
    while stack:
        node, depth = stack.pop()
        visits += 1
        if visits > MAX_NODES:
            raise UsageError(f"more than {MAX_NODES} values (YAML aliases repeated too often?)")
        if depth > MAX_DEPTH:
            raise UsageError(_TOO_DEEP)
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list | tuple):
            stack.extend((child, depth + 1) for child in node)


def _check_nesting(text: str, tokens: re.Pattern[str]) -> None:
    depth = 0
    for match in tokens.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise UsageError(_TOO_DEEP)
        elif token in ("]", "}"):
            depth -= 1


def _reason(exc: ValueError) -> str:
    """A parser's reason in a few words; Python's limit on the digits of an int (CVE-2020-10735)
    is said as such, without its advice to Python programmers."""
    if "integer string conversion" in str(exc):
        return f"a number longer than {sys.get_int_max_str_digits()} digits"
    return _first_line(exc)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
