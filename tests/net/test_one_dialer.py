"""One way to open a connection: no module but net.py dials TCP by itself. The lab (servers, not
clients) is exempt; so is libpq under pg.login, which connects by design: that check is the
real client's own verdict."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "tlsprobe"
EXEMPT = (PACKAGE / "net.py", PACKAGE / "lab")

# A loop's connection openers may only take a socket net.connect made (sock=...); these never.
_HANDOVERS = {"create_connection": 1, "open_connection": 0}  # positional arguments allowed
_DIALERS = {"sock_connect", "start_connection", "getaddrinfo"}


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        return f"{owner}.{func.attr}" if owner == "socket" else func.attr
    return func.id if isinstance(func, ast.Name) else ""


def dials(source: str) -> list[str]:
    """Every call in `source` that opens a TCP connection (or a socket for one) by itself, as
    "line: name"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node)
        keywords = {k.arg for k in node.keywords}
        if name in _HANDOVERS:
            handed = "sock" in keywords and not keywords & {"host", "port"}
            if handed and len(node.args) <= _HANDOVERS[name]:
                continue
        elif name not in _DIALERS | {"socket.socket", "socket.create_connection"}:
            continue
        found.append(f"{node.lineno}: {name}")
    return found


def test_only_net_dials() -> None:
    """No module outside net.py (and the lab) creates a socket, resolves a name, or opens a
    connection other than by handing the loop a socket from net.connect."""
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path == e or e in path.parents for e in EXEMPT)
        if (found := dials(path.read_text()))
    }
    assert offenders == {}


def test_net_itself_dials() -> None:
    """The twin: the checker finds net.py's own dialling (the resolver, the socket factory)."""
    found = dials((PACKAGE / "net.py").read_text())
    assert {entry.partition(": ")[2] for entry in found} >= {"getaddrinfo", "socket.socket"}


def test_the_checker_tells_dialling_from_handing_over() -> None:
    """Connecting by host and port, a bare sock_connect, a socket of one's own are found; a loop
    handed a socket is not."""
    source = "\n".join(
        (
            "loop.create_connection(Proto, sock=sock)",
            "asyncio.open_connection(sock=sock)",
            "loop.create_connection(Proto, host, port)",
            "loop.create_connection(Proto, host=h, port=p)",
            "asyncio.open_connection(host, port)",
            "asyncio.open_connection(sock=sock, host='x')",
            "loop.sock_connect(s, address)",
            "socket.socket(family)",
            "socket.create_connection((host, port))",
            "aiohappyeyeballs.start_connection(infos)",
            "psycopg.AsyncConnection.connect(dsn)",
        )
    )
    assert dials(source) == [
        "3: create_connection",
        "4: create_connection",
        "5: open_connection",
        "6: open_connection",
        "7: sock_connect",
        "8: socket.socket",
        "9: socket.create_connection",
        "10: start_connection",
    ]
