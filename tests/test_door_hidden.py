"""One rule for what a secret is, end to end: every value the door hides in a target's display
(an https query's api_key=, say) is recorded on the Target (unit tests: test_door_secrets.py), and
the runner's scrub hides exactly those wherever they come back: a real HTTPS server that
redirects to http:// keeping the query gets no secret of that query printed in any report. And
the display is the door's, nothing more: a password given apart from the text (password_env) is
never searched for in it."""

from __future__ import annotations

import contextlib
import io
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from threaded import ThreadedHttpServer
from tlsprobe.cli import main

# Each key the door reads as naming a secret, with a value no other text holds.
SECRET_QUERIES = {
    "api_key": "S3cretApiKey",
    "access_token": "S3cretAccessToken",
    "sig": "S3cretSig",
    "passwd": "S3cretPasswd",
}


class RedirectServer(ThreadedHttpServer):
    """An HTTPS server in a thread of its own that answers every GET with a 302 to the same
    path and query over plaintext http://, as a misconfigured front end does."""

    def __init__(self, leaf: trustme.LeafCert) -> None:
        super().__init__(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
        assert self.tls is not None
        leaf.configure_cert(self.tls)
        self.requested: list[str] = []

    def answer(self, head: str) -> bytes:
        request_target = head.split(" ", 2)[1]
        self.requested.append(request_target)
        location = f"http://localhost:{self.port}{request_target}"
        return (
            b"HTTP/1.1 302 Found\r\nLocation: " + location.encode("latin-1") + b"\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedirectServer, Path]]:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("redirect") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with RedirectServer(ca.issue_cert("localhost")) as running:
        yield running, ca_file


def check(argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `tlsprobe check ARGV`, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", *argv])
    return code, out.getvalue(), err.getvalue()


def status_details(report: str) -> dict[str, str]:
    """http.status's detail of each target of a JSON report, by the target as displayed."""
    results = json.loads(report)["results"]
    return {
        r["target"]: next(c["detail"] for c in r["checks"] if c["id"] == "http.status")
        for r in results
    }


@pytest.mark.parametrize("fmt", ["json", "table", "markdown", "junit", "prometheus"])
def test_a_redirect_that_repeats_a_secret_query_value_prints_none(
    server: tuple[RedirectServer, Path], fmt: str
) -> None:
    """api_key=, access_token=, sig= and passwd= sent in an https query and repeated by the
    server's redirect to http:// are hidden in every format at -vv, as in the display."""
    running, ca_file = server
    base = f"https://localhost:{running.port}/p"
    urls = [f"{base}?{key}={value}" for key, value in SECRET_QUERIES.items()]
    code, out, err = check([*urls, "--ca-file", str(ca_file), "--format", fmt, "-vv"])
    assert code == 1  # the redirect to plaintext fails http.status
    assert set(running.requested) >= {f"/p?{k}={v}" for k, v in SECRET_QUERIES.items()}
    for value in SECRET_QUERIES.values():
        assert value not in out + err, (fmt, value)
    assert f"{base}?api_key=***" in out


def test_the_redirect_detail_hides_the_value_and_keeps_the_rest(
    server: tuple[RedirectServer, Path],
) -> None:
    """The detail names the plaintext redirect, with each secret value as *** and the key, the
    path and the other query items as the server sent them."""
    running, ca_file = server
    base = f"https://localhost:{running.port}/p"
    plain = f"http://localhost:{running.port}/p"
    urls = [f"{base}?{key}={value}&page=2" for key, value in SECRET_QUERIES.items()]
    _, out, _ = check([*urls, "--ca-file", str(ca_file), "--format", "json"])
    said = "HTTP/1.1 302 Found redirects to plaintext"
    assert status_details(out) == {
        f"{base}?{key}=***&page=2": f"{said} {plain}?{key}=***&page=2" for key in SECRET_QUERIES
    }


def test_the_twin_a_query_value_under_a_plain_key_is_printed(
    server: tuple[RedirectServer, Path],
) -> None:
    """The twin: under keys that name no secret, the same values come back as the server
    sent them (so the test above saw them echoed, and hidden)."""
    running, ca_file = server
    base = f"https://localhost:{running.port}/p"
    plain = f"http://localhost:{running.port}/p"
    urls = [f"{base}?page{n}={value}" for n, value in enumerate(SECRET_QUERIES.values())]
    _, out, _ = check([*urls, "--ca-file", str(ca_file), "--format", "json"])
    said = "HTTP/1.1 302 Found redirects to plaintext"
    assert status_details(out) == {
        f"{base}?page{n}={value}": f"{said} {plain}?page{n}={value}"
        for n, value in enumerate(SECRET_QUERIES.values())
    }


# --- the display is the door's, nothing more ----------------------------------------------------


def test_a_password_from_the_environment_leaves_the_display_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A one-letter password_env password is not searched for in the URL text: `tlsprobe
    targets` shows https://u@host.example/ as written (it showed http***://u@ho***t.example/)."""
    config = tmp_path / "tlsprobe.toml"
    config.write_text('[[targets]]\nurl = "https://u@host.example/"\npassword_env = "P"\n')
    monkeypatch.setenv("P", "s")
    assert main(["targets", "-c", str(config)]) == 0
    line = "https://u@host.example/\thttps://u@host.example/\ttlsprobe.toml targets[0]"
    assert capsys.readouterr().out.splitlines() == [line]


def test_a_password_in_the_text_is_still_hidden_beside_one_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a password written in the URL is hidden by the door, whatever password_env
    gives."""
    config = tmp_path / "tlsprobe.toml"
    config.write_text('[[targets]]\nurl = "https://u:Zq9w@host.example/"\npassword_env = "P"\n')
    monkeypatch.setenv("P", "s")
    assert main(["targets", "-c", str(config)]) == 0
    line = "https://u:***@host.example/\thttps://u:***@host.example/\ttlsprobe.toml targets[0]"
    assert capsys.readouterr().out.splitlines() == [line]
