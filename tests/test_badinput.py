"""Bad input on the real command line: exit 2, exactly one stderr line naming the input and the
problem, nothing on stdout, no traceback; and for each, a good twin that is accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme

from tlsprobe.cli import main
from tlsprobe.cli.options import listen_address, positive_seconds

CLOSED = "https://127.0.0.1:1/"  # nothing listens: a run that probes fails fast, with exit 1


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:  # argparse's own errors
        return int(stop.code or 0)


def one_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run argv, assert it is a usage error, and return its one stderr line."""
    code = run(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def listed(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    """Run `tlsprobe targets argv`, assert it succeeds, and return its rows."""
    assert run(["targets", *argv]) == 0
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://exa mple.com/", "host name 'exa mple.com' is not a valid DNS name"),
        ("https://db,replica.example/", "host name 'db,replica.example' is not a valid DNS"),
        ("https://256.1.1.1/", "host '256.1.1.1' is not an IPv4 address"),
        ("https://host\nevil/", "contains a control character"),
        ("https://host\tx/", "contains a control character"),
        ("smtp://u:pa?ss@mail.example", "must be percent-encoded"),
    ],
)
def test_malformed_url_is_one_line(
    url: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A host with a space, comma or bad IPv4 form, a control character, or an unencoded ? in
    the password is refused before probing, in one line that names it."""
    line = one_error(["targets", url], capsys)
    assert named in line


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://svc_a.internal/", "svc_a.internal"),
        ("https://10.0.0.1/", "10.0.0.1"),
        ("https://[fe80::1%eth0]/", "fe80::1%eth0"),
        ("https://bücher.example/", "xn--bcher-kva.example"),
        ("smtp://u:pa%3Fss@mail.example", "mail.example"),
    ],
)
def test_well_formed_url_is_accepted(url: str, host: str) -> None:
    """The twins: underscores, IP literals (with a zone), IDNs and an encoded ? are targets."""
    from tlsprobe.targets import parse_target

    assert parse_target(url).host == host


# --- flags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--timeout", "nan"], "argument --timeout"),
        (["--timeout", "inf"], "argument --timeout"),
        (["--expiry-warn-days", "100000000000"], "argument --expiry-warn-days"),
        (["--ca-file", "."], "--ca-file .: is a directory, not a PEM file"),
    ],
)
def test_bad_flag_value_is_one_line(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """nan or inf seconds, a century of warning days (an OverflowError in the expiry check)
    and a directory as --ca-file are usage errors, not failed or endless probes."""
    assert named in one_error(["check", *argv, CLOSED], capsys)


def test_largest_flag_values_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    """The twin: the largest timeout and warning window still probe (and fail: port 1)."""
    argv = ["check", "--timeout", "86400", "--expiry-warn-days", "36500", "--format", "json"]
    # argparse checks every occurrence of a flag; the last one keeps this test short.
    assert run([*argv, "--timeout", "2", CLOSED]) == 1
    assert json.loads(capsys.readouterr().out)["summary"]["fail"] == 1


def test_key_file_as_ca_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A private key given as --ca-file is named as not a file of CA certificates."""
    key = tmp_path / "server.key"
    trustme.CA().issue_cert("localhost").private_key_pem.write_to_path(str(key))
    line = one_error(["check", "--ca-file", str(key), CLOSED], capsys)
    assert line.endswith(f"--ca-file {key}: not a PEM file of CA certificates")


def test_ca_certificate_as_ca_file_is_accepted(tmp_path: Path) -> None:
    """The twin: a PEM root certificate is a good --ca-file."""
    from tlsprobe.sources.config import ca_file_problem

    root = tmp_path / "root.pem"
    trustme.CA().cert_pem.write_to_path(str(root))
    assert ca_file_problem(root) is None


@pytest.mark.parametrize(
    ("output", "named"),
    [
        ("missing-dir/report.json", "no such directory"),
        (".", "is a directory (give a file name)"),
    ],
)
def test_unwritable_output_fails_before_probing(
    output: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o into a missing directory, or onto a directory, is refused before any probe runs
    (it used to fail after the whole run, naming a temporary file)."""
    path = tmp_path / output
    line = one_error(["check", "-o", str(path), CLOSED], capsys)
    assert line.startswith(f"tlsprobe: -o {path}: ")
    assert named in line
    assert not list(tmp_path.glob("**/*.tmp"))


def test_output_into_existing_directory_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: -o into a directory that exists writes the report there."""
    out = tmp_path / "report.json"
    assert run(["check", "--timeout", "2", "--format", "json", "-o", str(out), CLOSED]) == 1
    assert json.loads(out.read_text())["summary"]["targets"] == 1


@pytest.mark.parametrize("interval", ["inf", "nan", "0", "1e300"])
def test_endless_serve_interval_is_one_line(
    interval: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """serve --interval inf (or a typo as large) is refused like --timeout inf."""
    line = one_error(["serve", "--interval", interval, CLOSED], capsys)
    assert "argument --interval" in line


def test_day_long_serve_interval_is_accepted() -> None:
    """The twin: a day between rounds is a valid interval."""
    assert positive_seconds("86400") == 86400.0


def test_open_bracket_in_listen_is_refused() -> None:
    """serve --listen [::1:9468 (a bracket left open) is not an address."""
    with pytest.raises(ValueError, match=r"\[::1:9468"):
        listen_address("[::1:9468")


def test_bracketed_ipv6_listen_is_accepted() -> None:
    """The twin: [::1]:9468 is host ::1, port 9468."""
    assert listen_address("[::1]:9468") == ("::1", 9468)


# --- tlsprobe.toml ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[defaults]\ntimeout = inf\n", "defaults.timeout: expected a positive number"),
        ("[defaults]\ntimeout = nan\n", "defaults.timeout: expected a positive number"),
        ("[defaults]\nexpiry_warn_days = 1000000000000\n", "defaults.expiry_warn_days"),
        ('[defaults]\nca_file = "."\n', "defaults.ca_file: "),
        ('[[targets]]\nurl = "https://h/"\nconnect = "exa mple"\n', "targets[0].connect"),
        ('[[targets]]\nurl = "https://h/"\nconnect = ""\n', "expected a non-empty string"),
        ('[[targets]]\nurl = "https://h/"\nclient_cert = ""\n', "targets[0].client_cert"),
    ],
)
def test_bad_config_value_is_one_line(
    toml: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Endless or overflowing defaults, a directory as ca_file, and an empty or malformed
    connect or client_cert stop the run, naming the file and the key."""
    path = tmp_path / "tlsprobe.toml"
    path.write_text(toml)
    line = one_error(["check", "-c", str(path), CLOSED], capsys)
    assert str(path) in line
    assert named in line


def test_good_config_values_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a real root, a bounded timeout and a valid connect address are taken."""
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "root.pem"))
    path = tmp_path / "tlsprobe.toml"
    path.write_text(
        '[defaults]\ntimeout = 5\nexpiry_warn_days = 36500\nca_file = "root.pem"\n'
        '[[targets]]\nurl = "https://api.example/"\nconnect = "10.0.0.7"\n'
    )
    assert listed(["-c", str(path)], capsys) == [
        ["https://api.example/", "https://api.example/", "tlsprobe.toml targets[0]"]
    ]


# --- Airflow connection exports --------------------------------------------------------------


def export(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_PORT = "port: the port must be a number from 1 to 65535"
APART = (
    "is not a host name or IP address (give the port, the user and the path apart from the host)"
)


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("c.json", '{"db": {"conn_type": "postgres", "host": "h", "port": "abc"}}', BAD_PORT),
        ("c.json", '{"db": {"conn_type": "postgres", "host": "h", "port": 5432.7}}', BAD_PORT),
        ("c.json", '{"db": {"conn_type": "postgres", "host": "h", "port": true}}', BAD_PORT),
        ("c.json", '{"db": {"conn_type": "postgres", "host": "h", "port": 0}}', BAD_PORT),
        (
            "c.json",
            '{"db": {"conn_type": "postgres", "host": "h", "login": ["u"]}}',
            "login: expected a string, got list (quote it)",
        ),
        (
            "c.json",
            '{"db": {"conn_type": "postgres", "host": "h", "extra": [1]}}',
            "extra: expected a JSON object, got list",
        ),
        (
            "c.json",
            '{"db": {"conn_type": "smtp", "host": "h", "extra": "[1]"}}',
            "extra: expected a JSON object, got list",
        ),
        (
            "c.json",
            '{"db": {"conn_type": "smtp", "host": "h", "extra": 5}}',
            "extra: expected a JSON object, got int",
        ),
        ("c.json", '{"db": {"conn_type": "postgres", "host": "h:5432"}}', f"host 'h:5432' {APART}"),
        ("c.json", '{"db": {"conn_type": "postgres", "host": "h/x"}}', f"host 'h/x' {APART}"),
        ("c.yaml", "db: {conn_type: postgres, host: h, port: 2020-01-01}\n", BAD_PORT),
        ("c.env", 'db={"conn_type": "postgres", "host": "h", "port": "x"}\n', BAD_PORT),
        (
            "c.env",
            "db=postgres://u:pw@h/db?__extra__=notjson\n",
            "__extra__: not valid JSON (Expecting value: line 1 column 1 (char 0))",
        ),
        (
            "c.env",
            "db=postgres://u:pw@h/db?__extra__=%5B1%5D\n",
            "__extra__: expected a JSON object, got list",
        ),
    ],
)
def test_wrong_shape_in_connections_export_is_one_line(
    name: str, text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ports that are not ports, a non-string login, extras that are not objects and hosts that
    hold a port or a path are named with the file and the connection, never a traceback."""
    line = one_error(["targets", "--airflow-connections", export(tmp_path, name, text)], capsys)
    assert line == f"tlsprobe: {name}: db: {says}"


def test_well_shaped_connections_export_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a port as a digit string, extra as a JSON string, a null extra value and an
    IPv6 host all make targets."""
    text = json.dumps(
        {
            "db": {
                "conn_type": "postgres",
                "host": "db",
                "port": "6432",
                "extra": '{"sslmode": "verify-full", "sslrootcert": null}',
            },
            "v6": {"conn_type": "postgres", "host": "::1", "port": 5432},
        }
    )
    rows = listed(["--airflow-connections", export(tmp_path, "c.json", text)], capsys)
    assert [row[1] for row in rows] == [
        "postgresql://db:6432/?sslmode=verify-full",
        "postgresql://[::1]:5432/",
    ]


# --- airflow.cfg -----------------------------------------------------------------------------


def test_ipv6_web_server_host_becomes_a_bracketed_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """web_server_host = ::1 is probed as https://[::1]:8080/, not refused as a bad port."""
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(
        "[webserver]\nweb_server_ssl_cert = /x.pem\nweb_server_ssl_key = /k.pem\n"
        "web_server_host = ::1\n"
    )
    rows = listed(["--airflow-cfg", str(cfg)], capsys)
    assert rows[0][:2] == ["api-server", "https://[::1]:8080/"]


def test_malformed_web_server_port_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a web_server_port that is not a number is named with its setting."""
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text("[webserver]\nweb_server_ssl_cert = /x.pem\nweb_server_port = abc\n")
    line = one_error(["targets", "--airflow-cfg", str(cfg)], capsys)
    assert "airflow.cfg [webserver] web_server_port: the port must be a number" in line
