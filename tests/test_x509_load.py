"""tlsprobe.tls.x509_load: cryptography.x509 loaded with its name parser's patterns compiled on
first use, and nothing else changed."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

import tlsprobe
from tlsprobe.tls.x509_load import LazyPattern

_IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import re, sys
    compile_before = re.compile
    import tlsprobe.tls
    from tlsprobe.tls.x509_load import LazyPattern
    import cryptography.x509.name as name
    patterns = {k: v for k, v in vars(name._RFC4514NameParser).items() if k.endswith("_RE")}
    assert patterns and all(type(p) is LazyPattern for p in patterns.values()), patterns
    assert all(p._compiled is None for p in patterns.values())
    assert re.compile is compile_before
    others = [m for m in sys.modules if m.startswith("cryptography") and m != name.__name__]
    lazy = [m for m in others for v in vars(sys.modules[m]).values() if type(v) is LazyPattern]
    assert not lazy, lazy
    print("ok")
    """
)


def test_loading_tls_leaves_the_name_parser_uncompiled_and_re_as_it_was() -> None:
    """Importing tlsprobe.tls gives the name parser lazy patterns, no other module any, and
    restores re.compile."""
    ran = subprocess.run(
        [sys.executable, "-c", _IN_A_FRESH_PROCESS], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "ok\n"


def test_names_parse_from_text_as_cryptography_parses_them() -> None:
    """from_rfc4514_string still works (the patterns compile when it first runs)."""
    name = x509.Name.from_rfc4514_string(r"CN=a\,b+UID=x,O=Zürich \#1,1.2.3.4=#04024869")
    assert name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a,b"
    assert name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Zürich #1"
    assert name.get_attributes_for_oid(x509.ObjectIdentifier("1.2.3.4"))[0].value == "\x04\x02Hi"
    assert len(name.rdns) == 3


_PATTERN = LazyPattern(r"(?P<word>[a-z\x80-\U0010ffff]+)(=(?P<value>[^,]*))?", re.VERBOSE)
_COMPILED = re.compile(r"(?P<word>[a-z\x80-\U0010ffff]+)(=(?P<value>[^,]*))?", re.VERBOSE)


@given(st.text(max_size=30), st.integers(min_value=0, max_value=30))
def test_a_lazy_pattern_answers_as_the_compiled_one(text: str, pos: int) -> None:
    """match, fullmatch, search and pattern give what the compiled pattern gives."""

    def seen(found: re.Match[str] | None) -> object:
        return found and (found.span(), found.groupdict())

    assert seen(_PATTERN.match(text, pos=pos)) == seen(_COMPILED.match(text, pos=pos))
    assert seen(_PATTERN.fullmatch(text)) == seen(_COMPILED.fullmatch(text))
    assert seen(_PATTERN.search(text, pos)) == seen(_COMPILED.search(text, pos))
    assert _PATTERN.pattern == _COMPILED.pattern
    assert _PATTERN.flags == _COMPILED.flags


def test_only_the_tls_package_and_the_lab_import_cryptography_at_load() -> None:
    """A module outside tlsprobe.tls (and the lab, which no run loads) that imported
    cryptography when loaded could do so before tlsprobe.tls, and the name parser's patterns
    would be compiled after all: probes.revocation did, importing it for annotations."""
    src = Path(tlsprobe.__file__).parent
    found = []
    for path in sorted(src.rglob("*.py")):
        if path.parent.name in ("tls", "lab"):
            continue
        for node in ast.parse(path.read_text()).body:  # module level, not TYPE_CHECKING blocks
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n.split(".")[0] == "cryptography" for n in names):
                found.append(str(path.relative_to(src)))
    assert found == []
