"""A distinct password in every place a password can go, each really used against a real server,
and not one form of any of them in anything tlsprobe says: every report format at -vv (and the
table at -v), stderr, the GitHub step summary, `tlsprobe targets`, and the exporter's /probe,
/metrics and error pages.

The servers turn on the client: the SMTP servers (STARTTLS with AUTH PLAIN, implicit TLS with
AUTH LOGIN) refuse the login quoting the payload and the decoded password, and the HTTPS server
redirects to plaintext with the Basic credentials in its status line and Location; PostgreSQL
logs in (a role per password), and libpq gets sslpassword. Each password must be shown to have
been used, or the test fails: a password that never left the client proves nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import re
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from hostile import Hostile
from tlsprobe.cli import main
from tlsprobe.exporter import Exporter
from tlsprobe.lab import Lab
from tlsprobe.plan import make_plan
from tlsprobe.report import FORMATS

LAB_PASSWORD = "s3cret-pw"  # the lab cluster's superuser, for the sslpassword targets
TIMEOUT = "10"


def password(tag: str) -> str:
    """A password that differs in every encoding: "/", "?", ":", " " and "+" are encoded, and
    differently by quote and quote_plus; "é" is two UTF-8 bytes (hex with letters, and Latin-1
    mojibake when a header is read as Latin-1)."""
    return f"Pw-é-{tag}/x?y:z w+q"


def enc(text: str) -> str:
    return quote(text, safe="")


def lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def forms(user: str, secret: str) -> dict[str, str]:
    """Every form of `secret` that must not appear, written out independently of the code under
    test, including the escapes each report applies (JSON's \\u00e9)."""
    raw = secret.encode()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    found = {
        "as given": secret,
        "percent-encoded": enc(secret),
        "percent-encoded, lower-case hex": lower_hex(enc(secret)),
        "quote_plus": quote_plus(secret, safe=""),
        "quote_plus, lower-case hex": lower_hex(quote_plus(secret, safe="")),
        "base64 (AUTH LOGIN)": b64(raw),
        "AUTH PLAIN": b64(b"\0" + user.encode() + b"\0" + raw),
        "HTTP Basic": b64(f"{user}:{secret}".encode()),
        "UTF-8 read as Latin-1": raw.decode("latin-1"),
        "JSON-escaped": json.dumps(secret)[1:-1],
    }
    # What a lossy decoding (U+FFFD for each byte of "é") leaves of it: most of it.
    if "é" in secret:
        found["the tail after a lossy decoding"] = secret.split("é", 1)[1]
    return found


@dataclass(frozen=True)
class Place:
    """Where a password goes, whose it is, and how its use is proved: "sent" (a hostile server
    received it), "login" (a PostgreSQL role with that password logged in), "libpq" (the login's
    connection keywords carried it to libpq)."""

    tag: str
    user: str
    proof: str

    @property
    def password(self) -> str:
        return password(self.tag)


@dataclass
class Placement:
    """One run's worth of places: command-line arguments, environment, files."""

    name: str
    places: list[Place]
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def role(tag: str) -> Place:
    """A place proved by a login: a PostgreSQL role of its own has its password."""
    return Place(tag, f"leak_{tag.replace('-', '_')}", "login")


@dataclass
class World:
    lab: Lab
    hostile: Hostile
    ca_file: Path
    pg_port: int
    workdir: Path

    def echo(self, name: str, place: Place) -> str:
        return self.hostile.url(name, f"{place.user}:{enc(place.password)}@")

    def port(self, name: str) -> int:
        return int(urlsplit(self.hostile.url(name)).port or 0)

    def pg(self, userinfo: str, query: str = "", scheme: str = "postgresql") -> str:
        tail = f"&{query}" if query else ""
        return f"{scheme}://{userinfo}@localhost:{self.pg_port}/postgres?sslmode=verify-full{tail}"

    def pg_login(self, place: Place, scheme: str = "postgresql") -> str:
        return self.pg(f"{place.user}:{enc(place.password)}", scheme=scheme)

    def pg_airflow(self, place: Place, scheme: str = "postgresql") -> str:
        """Airflow's sql_alchemy_conn: its libpq is never given --ca-file, so sslrootcert."""
        root = f"sslrootcert={quote(str(self.ca_file), safe='')}"
        return self.pg(f"{place.user}:{enc(place.password)}", root, scheme=scheme)

    def pg_connection_uri(self, place: Place) -> str:
        """An Airflow connection's URI: its libpq is never given --ca-file, so sslrootcert."""
        root = f"sslrootcert={quote(str(self.ca_file), safe='')}"
        return self.pg(f"{place.user}:{enc(place.password)}", root, scheme="postgres")

    def smtp_connection(self, place: Place) -> dict[str, object]:
        """An Airflow SMTP connection speaking implicit TLS: the provider's SMTP_SSL, and
        disable_tls so that it does not also call STARTTLS inside it."""
        return {
            "conn_type": "smtp",
            "host": "localhost",
            "port": self.port("smtps-echo"),
            "login": place.user,
            "password": place.password,
            "extra": {"disable_tls": True},
        }

    def pg_connection(self, place: Place) -> dict[str, object]:
        return {
            "conn_type": "postgres",
            "host": "localhost",
            "port": self.pg_port,
            "login": place.user,
            "password": place.password,
            "schema": "postgres",
            # Airflow's libpq is never given --ca-file: the root comes in sslrootcert.
            "extra": {"sslmode": "verify-full", "sslrootcert": str(self.ca_file)},
        }

    def airflow_cfg(self, name: str, smtp: Place, db: Place | None) -> Path:
        """An airflow.cfg with an SMTP server (its login in connection smtp_default, which
        Airflow 3's core email logs in with), the API server on the HTTPS echo server and,
        with `db`, a metadata database."""
        del smtp  # the caller puts its login in connection smtp_default
        https = self.port("https-echo")
        lines = [
            "[smtp]",
            "smtp_host = localhost",
            f"smtp_port = {self.port('smtp-echo')}",
            "smtp_starttls = True",
            "smtp_ssl = False",
            "[api]",
            "host = localhost",
            f"port = {https}",
            "ssl_cert = /srv/cert.pem",
            "ssl_key = /srv/key.pem",
            f"base_url = https://localhost:{https}",
        ]
        if db is not None:
            url = self.pg_airflow(db, scheme="postgresql+psycopg2")
            lines += ["[database]", f"sql_alchemy_conn = {url.replace('%', '%%')}"]
        path = self.workdir / name
        path.write_text("\n".join(lines) + "\n")
        return path


def placement_a(world: World) -> Placement:
    """The command line's URLs and keyword strings, tlsprobe.toml's password_env, airflow.cfg's
    own passwords, a URI in AIRFLOW_CONN_, and a JSON connections export."""
    p = {
        place.tag: place
        for place in [
            Place("url-smtp", "u-url-smtp", "sent"),
            Place("url-smtps", "u-url-smtps", "sent"),
            Place("url-https", "u-url-https", "sent"),
            role("url-userinfo"),
            role("url-query"),
            Place("url-sslpassword", "probe", "libpq"),
            role("kw-password"),
            Place("kw-sslpassword", "probe", "libpq"),
            Place("toml-password-env", "u-toml", "sent"),
            role("cfg-sql-alchemy-conn"),
            Place("cfg-smtp-password", "u-cfg-smtp", "sent"),
            role("conn-uri"),
            role("export-json-pg"),
            Place("export-json-smtp", "u-json-smtp", "sent"),
        ]
    }
    query, kw, kwssl = p["url-query"], p["kw-password"], p["kw-sslpassword"]
    keywords = f"host=localhost port={world.pg_port} dbname=postgres sslmode=verify-full"
    urls = [
        world.echo("smtp-echo", p["url-smtp"]),
        world.echo("smtps-echo", p["url-smtps"]),
        world.echo("https-echo", p["url-https"]),
        world.pg_login(p["url-userinfo"]),
        world.pg(query.user, f"password={enc(query.password)}"),
        world.pg(f"probe:{LAB_PASSWORD}", f"sslpassword={enc(p['url-sslpassword'].password)}"),
        f"{keywords} user={kw.user} password='{kw.password}'",
        f"{keywords} user=probe password={LAB_PASSWORD} sslpassword='{kwssl.password}'",
    ]
    toml = world.workdir / "tlsprobe.toml"
    toml.write_text(
        f'[[targets]]\nurl = "{world.hostile.url("https-echo", "u-toml@")}"\n'
        'password_env = "TLSPROBE_TEST_TOML_PASSWORD"\n'
    )
    cfg = world.airflow_cfg("airflow-a.cfg", p["cfg-smtp-password"], p["cfg-sql-alchemy-conn"])
    exported = world.workdir / "connections.json"
    exported.write_text(
        json.dumps(
            {
                "leak_pg": world.pg_connection(p["export-json-pg"]),
                "leak_smtp": world.smtp_connection(p["export-json-smtp"]),
                "smtp_default": world.smtp_connection(p["cfg-smtp-password"]),
            }
        )
    )
    args = [*urls, "-c", str(toml), "--airflow-cfg", str(cfg)]
    env = {
        "TLSPROBE_TEST_TOML_PASSWORD": p["toml-password-env"].password,
        "AIRFLOW_CONN_LEAK_URI": world.pg_connection_uri(p["conn-uri"]),
    }
    return Placement("A", list(p.values()), [*args, "--airflow-connections", str(exported)], env)


def placement_b(world: World) -> Placement:
    """airflow.cfg's secrets from AIRFLOW__* variables, a JSON AIRFLOW_CONN_, a YAML export."""
    db, smtp = role("env-sql-alchemy-conn"), Place("env-smtp-password", "u-env-smtp", "sent")
    conn_json, yaml_pg = Place("conn-json", "u-conn-json", "sent"), role("export-yaml")
    cfg = world.airflow_cfg("airflow-b.cfg", smtp, None)
    exported = world.workdir / "connections.yaml"
    exported.write_text(yaml.safe_dump({"leak_yaml": world.pg_connection(yaml_pg)}))
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": world.pg_airflow(db),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(world.smtp_connection(smtp)),
        "AIRFLOW_CONN_LEAK_JSON": json.dumps(world.smtp_connection(conn_json)),
    }
    args = ["--airflow-cfg", str(cfg), "--airflow-connections", str(exported)]
    return Placement("B", [db, smtp, conn_json, yaml_pg], args, env)


def placement_c(world: World) -> Placement:
    """A .env connections export."""
    place = role("export-env")
    exported = world.workdir / "connections.env"
    exported.write_text(f"leak_env={world.pg_connection_uri(place)}\n")
    return Placement("C", [place], ["--airflow-connections", str(exported)])


# --- running tlsprobe every way, and collecting everything it said -------------------------------


@dataclass
class Said:
    """Everything tlsprobe said, by where it said it, and the JSON results of each placement."""

    texts: dict[str, str] = field(default_factory=dict)
    results: dict[str, list[dict[str, object]]] = field(default_factory=dict)


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield


def run_cli(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Exit code and stderr of the command line, run in this process."""
    err = io.StringIO()
    with environment(env), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def views(label: str, text: str) -> dict[str, str]:
    """The text, and what each format decodes to (JSON's \\u escapes, XML's entities,
    Prometheus' label escapes): a secret must not hide behind a format's own escaping."""
    found = {label: text}
    if "--format json" in label:
        found[f"{label} (decoded)"] = json.dumps(json.loads(text), ensure_ascii=False)
    elif "--format junit" in label:
        root = ET.fromstring(text.split("\n", 2)[2])
        parts = [t for el in root.iter() for t in (el.text or "", *el.attrib.values())]
        found[f"{label} (decoded)"] = "\n".join(parts)
    elif "--format prometheus" in label:
        families = text_string_to_metric_families(text)
        labels = [v for f in families for sample in f.samples for v in sample.labels.values()]
        found[f"{label} (decoded)"] = "\n".join(labels)
    return found


def check_every_way(world: World, placement: Placement, said: Said) -> None:
    """`check` in every format at -vv, the table at -v, and `targets`, for one placement."""
    common = ["--timeout", TIMEOUT, "--ca-file", str(world.ca_file), *placement.args]
    summary = world.workdir / f"summary-{placement.name}.md"
    env = {**placement.env, "GITHUB_STEP_SUMMARY": str(summary)}
    runs = [(fmt, "-vv") for fmt in FORMATS] + [("table", "-v")]
    failing = int(any(p.proof == "sent" for p in placement.places))  # echo servers refuse logins
    for fmt, verbosity in runs:
        out = world.workdir / f"{placement.name}-{fmt}{verbosity}.out"
        label = f"{placement.name}: check {verbosity} --format {fmt}"
        code, err = run_cli(["check", verbosity, "--format", fmt, "-o", str(out), *common], env)
        assert code == failing, label
        said.texts.update(views(label, out.read_text()))
        said.texts[f"{label} (stderr)"] = err
        if fmt == "json":
            said.results[placement.name] = json.loads(out.read_text())["results"]
    said.texts[f"{placement.name}: GitHub step summary"] = summary.read_text()
    code, out = run_targets(placement)
    assert code == 0
    said.texts[f"{placement.name}: targets"] = out


def run_targets(placement: Placement) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        environment(placement.env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(["targets", *placement.args])
    return code, out.getvalue() + err.getvalue()


# --- the exporter --------------------------------------------------------------------------------


def exporter_for(world: World, placement: Placement) -> Exporter:
    from tlsprobe.cli.options import build_parser, flags_of, sources_of

    args = build_parser().parse_args(["check", "--ca-file", str(world.ca_file), *placement.args])
    with environment(placement.env):
        plan = make_plan(sources_of(args), flags_of(args), os.environ, default_timeout=10.0)
    return Exporter(plan.targets, plan.policy, interval=3600.0, listen=("127.0.0.1", 0))


def raw_get(address: tuple[str, int], target: bytes) -> str:
    """The whole answer (status line, headers, body) to a GET of `target`, sent as bytes."""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def ask_exporter(
    world: World, placement: Placement, placements: list[Placement], said: Said
) -> None:
    """/metrics after a round, /probe of every configured target, and the error pages."""
    exporter = exporter_for(world, placement)
    with exporter:
        deadline = time.monotonic() + 60
        while exporter.last_round is None:
            assert time.monotonic() < deadline, "no round finished within 60 s"
            time.sleep(0.1)
        host, port = exporter.address
        base = f"http://{host}:{port}"
        said.texts["exporter /metrics"] = httpx.get(f"{base}/metrics", timeout=30).text

        def probe(key: str) -> str:
            answer = httpx.get(f"{base}/probe", params={"target": key}, timeout=60)
            assert answer.status_code == 200, (key, answer.text)
            return answer.text

        keys = [t.name or t.display for t in exporter.targets]
        with ThreadPoolExecutor(4) as pool:
            for key, text in zip(keys, pool.map(probe, keys), strict=True):
                said.texts.update(views(f"exporter /probe {key} --format prometheus", text))
        if placement is placements[0]:
            for name, path in error_requests():
                said.texts[f"exporter {name}"] = raw_get((host, port), path)


ERROR_PLACES = [
    Place("exporter-400", "u", "asked"),
    Place("exporter-403", "u", "asked"),
    Place("exporter-404", "u", "asked"),
    Place("exporter-bad-request-line", "u", "asked"),
]


def error_requests() -> list[tuple[str, bytes]]:
    """Requests that the exporter must refuse, each with a password of its own in it."""
    bad, unknown, nowhere, broken = (enc(p.password) for p in ERROR_PLACES)

    def query(path: str, url: str) -> bytes:
        return f"{path}?target={quote(url, safe='')}".encode()

    return [
        ("400 (port out of range)", query("/probe", f"smtp://u:{bad}@localhost:99999")),
        ("403 (not configured)", query("/probe", f"smtps://u:{unknown}@elsewhere.test")),
        ("404", query("/elsewhere", f"smtp://u:{nowhere}@h")),
        # A blank in the request target: the standard library refuses the request line.
        ("400 (bad request line)", f"/probe?target=smtp://u:{broken}@h x".encode()),
    ]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("secrets-everywhere")
    (workdir / "pki").mkdir()
    with Hostile(workdir / "pki") as hostile:
        ca_file = workdir / "ca.pem"  # the lab's roots and the hostile servers' root
        ca_file.write_bytes(lab.ca_file.read_bytes() + hostile.ca_file.read_bytes())
        pg_port = int(urlsplit(lab.url("pg-login")).port or 0)
        yield World(lab, hostile, ca_file, pg_port, workdir)


@pytest.fixture(scope="module")
def every_placement(world: World) -> list[Placement]:
    return [placement_a(world), placement_b(world), placement_c(world)]


@contextlib.contextmanager
def roles(world: World, places: list[Place]) -> Iterator[None]:
    """A login role for each place, with its password, on the lab's PostgreSQL."""
    conninfo = psycopg.conninfo.make_conninfo(
        host="localhost",
        port=world.pg_port,
        user="probe",
        password=LAB_PASSWORD,
        dbname="postgres",
        sslmode="verify-full",
        sslrootcert=str(world.lab.ca_file),
    )

    def each(statement: str, *, password: bool) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for place in places:
                words = [sql.Identifier(place.user)]
                words += [sql.Literal(place.password)] if password else []
                conn.execute(sql.SQL(statement).format(*words))

    each("DROP ROLE IF EXISTS {}", password=False)
    each("CREATE ROLE {} LOGIN PASSWORD {}", password=True)
    try:
        yield
    finally:
        each("DROP ROLE IF EXISTS {}", password=False)


@pytest.fixture(scope="module")
def said(world: World, every_placement: list[Placement]) -> Iterator[Said]:
    """Run everything once; the tests below read what was said."""
    found = Said()
    logins = [p for placement in every_placement for p in placement.places if p.proof == "login"]
    with roles(world, logins):
        for placement in every_placement:
            check_every_way(world, placement, found)
        for placement in every_placement:
            ask_exporter(world, placement, every_placement, found)
        yield found


# --- the tests -----------------------------------------------------------------------------------


def leaks(texts: dict[str, str], secrets: list[tuple[str, str, str]]) -> list[str]:
    """Every (where, whose, which form) of a secret found in `texts`; blanks are ignored on
    both sides, so a line the table folded cannot hide a form."""
    found = []
    for where, text in texts.items():
        flat = "".join(text.split())
        for tag, user, secret in secrets:
            for name, form in forms(user, secret).items():
                if form in text or "".join(form.split()) in flat:
                    found.append(f"{where}: {tag}: {name}")
    return found


def every_secret(placements: list[Placement]) -> list[tuple[str, str, str]]:
    places = [p for placement in placements for p in placement.places] + ERROR_PLACES
    return [(p.tag, p.user, p.password) for p in places] + [("lab", "probe", LAB_PASSWORD)]


def test_every_password_was_used(
    said: Said, world: World, every_placement: list[Placement]
) -> None:
    """Each password reached its server: the echo servers received it, a PostgreSQL role logged
    in with it, or libpq was given it (sslpassword); otherwise its absence would prove nothing."""
    for placement in every_placement:
        results = said.results[placement.name]
        for place in placement.places:
            if place.proof == "sent":
                assert place.password in world.hostile.passwords(), place.tag
            elif place.proof == "login":
                mine = [r for r in results if place.user in str(r["target"])]
                assert mine, place.tag
                assert all(login_status(r) == "pass" for r in mine), (place.tag, mine)
        with_sslpassword = [
            r for r in results if any("sslpassword=***" in line for line in transcript(r))
        ]
        assert len(with_sslpassword) == sum(p.proof == "libpq" for p in placement.places)
        assert all(login_status(r) == "pass" for r in with_sslpassword)


def login_status(result: dict[str, object]) -> str:
    checks = result["checks"]
    assert isinstance(checks, list)
    return next(str(c["status"]) for c in checks if c["id"] == "pg.login")


def transcript(result: dict[str, object]) -> list[str]:
    lines = result["transcript"]
    assert isinstance(lines, list)
    return [str(line) for line in lines]


def test_no_form_of_any_password_anywhere(said: Said, every_placement: list[Placement]) -> None:
    """No report, at any verbosity, no stderr, summary, target list or exporter answer holds
    any form of any password."""
    assert len(said.texts) > 60  # every format of every placement, and the exporter's answers
    assert leaks(said.texts, every_secret(every_placement)) == []


def test_the_servers_echo_and_the_search_sees_it(
    world: World, every_placement: list[Placement]
) -> None:
    """The bad twin: the same probes without the runner's boundary print the passwords (raw,
    in AUTH PLAIN, in Basic, as Latin-1 mojibake), and the search above finds them."""
    from tlsprobe.model import Policy
    from tlsprobe.probes import probe_for
    from tlsprobe.report.json_report import result_dict
    from tlsprobe.targets import parse_target

    smtp, https = Place("twin-smtp", "u-twin", "sent"), Place("twin-https", "u-twin", "sent")
    policy = Policy(timeout=10, ca_file=world.ca_file)

    async def raw(url: str) -> str:
        target = parse_target(url)
        result = await probe_for(target.protocol)(target, policy)
        return json.dumps(result_dict(result), ensure_ascii=False)

    texts = {
        "smtp": asyncio.run(raw(world.echo("smtp-echo", smtp))),
        "https": asyncio.run(raw(world.echo("https-echo", https))),
    }
    found = leaks(texts, [(p.tag, p.user, p.password) for p in (smtp, https)])
    assert "smtp: twin-smtp: AUTH PLAIN" in found
    assert "smtp: twin-smtp: as given" in found
    assert "https: twin-https: HTTP Basic" in found
    assert "https: twin-https: UTF-8 read as Latin-1" in found
    assert "https: twin-https: the tail after a lossy decoding" in found


def test_error_pages_are_one_line_without_the_password(said: Said) -> None:
    """The exporter's 400, 403 and 404, and its answer to a request line it cannot parse, are
    one line each, name the target with *** where they name it, and end the exchange."""
    expected = {
        "exporter 400 (port out of range)": ("400", "bad target: "),
        "exporter 403 (not configured)": ("403", "not one of the configured targets"),
        "exporter 404": ("404", "not found"),
        "exporter 400 (bad request line)": ("400", "400 Bad Request"),
    }
    for where, (code, words) in expected.items():
        head, _, body = said.texts[where].partition("\r\n\r\n")
        # aiohttp answers a request it cannot parse as HTTP/1.0: it never learnt the version
        version = "1.0" if where == "exporter 400 (bad request line)" else "1.1"
        assert head.startswith(f"HTTP/{version} {code} "), where
        assert words in body, where
        assert body.count("\n") == 1, where
        assert body.endswith("\n"), where
    assert "u:***@" in said.texts["exporter 400 (port out of range)"]
