"""What the door says about bad input never quotes a value that may be a secret, and every
malformed input is one line and exit 2: a sql_alchemy_conn that is a bare password, tlsprobe.toml
values of the wrong type, a password written where password_env wants a variable's name, an
airflow.cfg boolean, integers of more than 4,300 digits in TOML, YAML and JSON, and numbers in
other scripts' digits on the command line. The *_cmd commands run with no terminal and no stdin,
and a slow one is said to be slow. tlsprobe.toml's [defaults] reach the policy typed."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tlsprobe.cli import main
from tlsprobe.cli.options import build_parser
from tlsprobe.failures import UsageError
from tlsprobe.model import MinTls, Policy
from tlsprobe.plan import Flags, Sources, make_plan
from tlsprobe.sources import PolicyDefaults, airflow, config
from tlsprobe.sources.airflow import config as airflow_config

SECRET = "S3cretPw0rd"
HUGE = "9" * 5000


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own directory: no ./tlsprobe.toml is read by accident."""
    monkeypatch.chdir(tmp_path)


def one_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run tlsprobe in-process: exit 2, nothing on stdout, and its one stderr line."""
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own errors
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err
    assert len(err.splitlines()) == 1, err
    return err.rstrip("\n")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# --- sql_alchemy_conn: name the database only when the word is one -------------------------


def metadata_note(tmp_path: Path, cfg: str, env: dict[str, str], *, allow_cmd: bool = False) -> str:
    path = tmp_path / "airflow.cfg"
    path.write_text(cfg)
    found = airflow.read(path, env, allow_cmd=allow_cmd)
    (note,) = [n for n in found.notes if "sql_alchemy_conn" in n.lower()]
    return note


@pytest.mark.parametrize(
    ("cfg", "env", "origin"),
    [
        (
            f"[database]\nsql_alchemy_conn = {SECRET}\n",
            {},
            "airflow.cfg [database] sql_alchemy_conn",
        ),
        (
            "[core]\n",
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": SECRET},
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        ),
        (
            f"[database]\nsql_alchemy_conn_cmd = echo {SECRET}\n",
            {},
            "airflow.cfg [database] sql_alchemy_conn_cmd (command output)",
        ),
        (
            f"[database]\nsql_alchemy_conn = {SECRET}://db/x\n",
            {},
            "airflow.cfg [database] sql_alchemy_conn",
        ),
    ],
)
def test_a_sql_alchemy_conn_that_is_no_database_url_is_not_echoed(
    cfg: str, env: dict[str, str], origin: str, tmp_path: Path
) -> None:
    """A bare password as sql_alchemy_conn (in the file, the environment, a command's output,
    or before a "://") is "not a database URL"; it used to be "a s3cretpw0rd database"."""
    note = metadata_note(tmp_path, cfg, env, allow_cmd=True)
    assert note == f"{origin}: not a database URL, not probed"


@pytest.mark.parametrize("scheme", ["mysql", "mysql+mysqldb", "sqlite", "MSSQL+pyodbc"])
def test_a_known_database_is_named(scheme: str, tmp_path: Path) -> None:
    """The twin: a URL of another database is named by its dialect, in lower case."""
    cfg = f"[database]\nsql_alchemy_conn = {scheme}://u:{SECRET}@db/x\n"
    note = metadata_note(tmp_path, cfg, {})
    dialect = scheme.lower().partition("+")[0]
    assert note == f"airflow.cfg [database] sql_alchemy_conn: a {dialect} database, not probed"


# --- tlsprobe.toml: types named, strings never quoted --------------------------------------


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            f'[[targets]]\nurl = ["https://u:{SECRET}@h/"]\n',
            "targets[0].url: expected a non-empty string, got an array",
        ),
        (
            f'[[targets]]\nurl = "https://h/"\nname = {{ n = "{SECRET}" }}\n',
            "targets[0].name: expected a non-empty string, got a table",
        ),
        (
            '[[targets]]\nurl = "https://u@h/"\npassword_env = "Tr0ub4dor&3"\n',
            "targets[0].password_env: must name an environment variable (letters, digits and _)",
        ),
        (
            f'[[targets]]\nurl = "https://h/"\nclient_key_password_env = "{SECRET}!"\n',
            "targets[0].client_key_password_env: must name an environment variable "
            "(letters, digits and _)",
        ),
        (
            f'[defaults]\ntimeout = "https://u:{SECRET}@h/"\n',
            "defaults.timeout: expected a positive number of seconds, at most 86400, got a string",
        ),
        (
            f'[defaults]\nmin_tls = "{SECRET}"\n',
            'defaults.min_tls: expected "1.2" or "1.3" (a string), got another string',
        ),
        (
            f'[defaults]\nconcurrency = ["{SECRET}"]\n',
            "defaults.concurrency: expected a whole number, 1 or more, got an array",
        ),
        (
            "[defaults]\nexpiry_warn_days = 1979-05-27T07:32:00\n",
            "defaults.expiry_warn_days: expected a whole number of days, 0 to 36500, "
            "got a date-time",
        ),
        (
            '[defaults]\nca_file = ""\n',
            "defaults.ca_file: expected a path to a PEM file, got an empty string",
        ),
    ],
)
def test_a_wrong_type_is_named_by_its_type(
    toml: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong-typed value is described by its type; no string value is quoted (it used to be
    `got ['https://u:S3cretPw0rd@h/']`), nor a password_env that is no variable's name."""
    path = write(tmp_path / "tlsprobe.toml", toml)
    assert one_error(["targets", "-c", path], capsys) == f"tlsprobe: {path}: {says}"


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            "[defaults]\ntimeout = -1\n",
            "defaults.timeout: expected a positive number of seconds, at most 86400, got -1",
        ),
        (
            "[defaults]\nconcurrency = true\n",
            "defaults.concurrency: expected a whole number, 1 or more, got true",
        ),
        (
            '[[targets]]\nurl = "https://u@h/"\npassword_env = "DB_PASSWORD_2"\n',
            "targets[0].password_env: the environment variable DB_PASSWORD_2 is not set",
        ),
    ],
)
def test_numbers_booleans_and_variable_names_are_quoted(
    toml: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a number, a boolean, and a password_env that is a variable's name are said
    as written: they are no secrets, and they say what to fix."""
    path = write(tmp_path / "tlsprobe.toml", toml)
    assert one_error(["targets", "-c", path], capsys) == f"tlsprobe: {path}: {says}"


# --- airflow.cfg booleans ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "env", "origin"),
    [
        (
            "[smtp]\nsmtp_host = mail\n",
            {"AIRFLOW__SMTP__SMTP_SSL": SECRET},
            "AIRFLOW__SMTP__SMTP_SSL",
        ),
        (
            f"[smtp]\nsmtp_host = mail\nsmtp_starttls = {SECRET}\n",
            {},
            "airflow.cfg [smtp] smtp_starttls",
        ),
    ],
)
def test_a_boolean_that_is_none_is_not_quoted(
    cfg: str, env: dict[str, str], origin: str, tmp_path: Path
) -> None:
    """smtp_ssl = S3cretPw0rd says what it expects, without the value (it said got '...')."""
    path = tmp_path / "airflow.cfg"
    path.write_text(cfg)
    with pytest.raises(UsageError) as caught:
        airflow.read(path, env)
    assert str(caught.value) == (
        f"{origin}: expected True or False (Airflow reads t, true, 1, f, false, 0)"
    )


@pytest.mark.parametrize(
    ("word", "ssl"), [("True", True), ("F", False), ("1", True), ("0 # no", False)]
)
def test_a_boolean_word_is_read(word: str, ssl: bool, tmp_path: Path) -> None:
    """The twin: Airflow's boolean words (its getboolean's, an inline comment cut) choose
    implicit TLS or STARTTLS."""
    path = tmp_path / "airflow.cfg"
    path.write_text(f"[smtp]\nsmtp_host = mail\nsmtp_ssl = {word}\n")
    (target,) = [t for t in airflow.read(path, {}).targets if t.name == "smtp"]
    assert target.protocol == ("smtps" if ssl else "smtp")


# --- integers longer than Python converts ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        (
            "tlsprobe.toml",
            f"[defaults]\ntimeout = {HUGE}\n",
            "not valid TOML (a number longer than 4300 digits)",
        ),
        (
            "tlsprobe.toml",
            f'[[targets]]\nurl = "https://h/"\nexpect_status = {HUGE}\n',
            "not valid TOML (a number longer than 4300 digits)",
        ),
        (
            "c.yaml",
            f"db:\n  conn_type: postgres\n  host: h\n  port: {HUGE}\n",
            "not valid YAML (a number longer than 4300 digits)",
        ),
        (
            "c.yaml",
            "db:\n  conn_type: postgres\n  host: h\n  port: 2020-13-45\n",
            "not valid YAML (month must be in 1..12)",
        ),
        (
            "c.json",
            f'{{"db": {{"conn_type": "postgres", "host": "h", "port": {HUGE}}}}}',
            "not valid JSON (a number longer than 4300 digits)",
        ),
    ],
)
def test_a_number_too_long_to_read_is_one_line(
    name: str, text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tomllib and PyYAML raise ValueError for an integer of 5,000 digits (and PyYAML for
    month 13): one line naming the file, where it was a traceback."""
    path = write(tmp_path / name, text)
    option = "-c" if name.endswith(".toml") else "--airflow-connections"
    assert one_error(["targets", option, path], capsys) == f"tlsprobe: {path}: {says}"


def test_a_long_number_within_the_limit_is_read(tmp_path: Path) -> None:
    """The twin: a 4,300-digit port is read, and refused as a port, not as the file."""
    path = tmp_path / "c.yaml"
    path.write_text(f"db:\n  conn_type: postgres\n  host: h\n  port: {'9' * 4300}\n")
    from tlsprobe.sources import connections

    with pytest.raises(UsageError) as caught:
        connections.from_file(path)
    assert str(caught.value) == "c.yaml: db: port: the port must be a number from 1 to 65535"


# --- *_cmd: no terminal, no stdin, a timeout said as one -----------------------------------


def cmd_config(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "airflow.cfg"
    path.write_text(f"[database]\nsql_alchemy_conn_cmd = {command}\n")
    return path


def test_a_slow_command_is_said_to_be_slow_and_is_killed_with_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command still running at the deadline is killed, with what it started, and the
    message says it did not finish (it said "the command failed")."""
    monkeypatch.setattr(airflow_config, "CMD_TIMEOUT_S", 0.5)
    pid_file = tmp_path / "child.pid"
    path = cmd_config(tmp_path, f"sh -c 'sleep 60 & echo $! > {pid_file}; wait'")
    with pytest.raises(UsageError) as caught:
        airflow.read(path, {}, allow_cmd=True)
    origin = "airflow.cfg [database] sql_alchemy_conn_cmd"
    assert str(caught.value) == f"{origin}: the command did not finish within 0.5 s"
    assert ends_within(int(pid_file.read_text()), 5.0)


def ends_within(pid: int, seconds: float) -> bool:
    """Whether process `pid` is gone (or a zombie nobody reaped) within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("false", "the command failed (exit status 1)"),
        ("sh -c 'exit 3'", "the command failed (exit status 3)"),
        ("no-such-program-tlsprobe", "the command could not be started"),
        ("echo 'unbalanced", "the command could not be started"),
        ("printf '\\377'", "the command printed no UTF-8 text"),
    ],
)
def test_a_failing_command_says_how(command: str, says: str, tmp_path: Path) -> None:
    """A command that fails, cannot start or prints no text is named with its key."""
    with pytest.raises(UsageError) as caught:
        airflow.read(cmd_config(tmp_path, command), {}, allow_cmd=True)
    assert str(caught.value) == f"airflow.cfg [database] sql_alchemy_conn_cmd: {says}"


def test_a_command_that_reads_stdin_reads_nothing(tmp_path: Path) -> None:
    """The command's stdin is /dev/null: `read` ends at once, and its output is used."""
    path = cmd_config(tmp_path, "sh -c 'read x; echo postgresql://db.example/x$x'")
    (target,) = [
        t for t in airflow.read(path, {}, allow_cmd=True).targets if t.name == "metadata-db"
    ]
    assert (target.host, target.path) == ("db.example", "/x")


def run_on_terminal(argv: list[str], cwd: Path, limit: float) -> tuple[int | None, str]:
    """`python -m tlsprobe ARGV` with a pseudo-terminal as its controlling terminal, stdin,
    stdout and stderr, where nobody types: its exit code (None: killed at `limit` seconds)
    and what it wrote there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: exec only
        pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            os.execv(sys.executable, [sys.executable, "-m", "tlsprobe", *argv])
        finally:
            os._exit(127)
    deadline = time.monotonic() + limit
    output = bytearray()
    try:
        while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the terminal's last holder closed it
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(fd)
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done and time.monotonic() < deadline:
        time.sleep(0.02)
        done, status = os.waitpid(pid, os.WNOHANG)
    if not done:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None, output.decode(errors="replace")
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_a_command_on_a_terminal_cannot_prompt(tmp_path: Path) -> None:
    """Run from a terminal, a command that asks for a password on /dev/tty and reads stdin
    gets neither: no prompt shows, nothing waits for typing, and its output is used. (It
    prompted "Password:" and waited 10 s, then "the command failed".)"""
    command = (
        "sh -c 'printf Password: >/dev/tty; read x </dev/tty; read y; "
        "echo postgresql://db.example/app$x$y'"
    )
    cmd_config(tmp_path, command)
    argv = ["targets", "--airflow-cfg", "airflow.cfg", "--allow-cmd"]
    code, said = run_on_terminal(argv, tmp_path, limit=30)
    assert "Password:" not in said
    assert code == 0, said
    row = "metadata-db\tpostgresql://db.example/app\tairflow.cfg [database] sql_alchemy_conn_cmd"
    assert f"{row} (command output)" in said.replace("\r", "").splitlines()


def test_the_terminal_twin_a_child_of_the_terminal_is_asked(tmp_path: Path) -> None:
    """The twin, proving the runner above gives a terminal: the same command run as a plain
    child of a process on the terminal does print its prompt there."""
    script = (
        "import subprocess; subprocess.run(['sh', '-c', 'printf Password: >/dev/tty'], check=True)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(sys.executable, [sys.executable, "-c", script])
        finally:
            os._exit(127)
    output = bytearray()
    try:
        while select.select([fd], [], [], 10)[0]:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Password:" in output


# --- command-line numbers ------------------------------------------------------------------

ARABIC_ONE = "\u0661"


@pytest.mark.parametrize(
    ("argv", "option", "kind"),
    [
        (
            ["check", "--timeout", ARABIC_ONE],
            "--timeout",
            "number of seconds (above 0, at most 86400)",
        ),
        (
            ["serve", "--interval", ARABIC_ONE],
            "--interval",
            "number of seconds (above 0, at most 86400)",
        ),
        (["check", "--timeout", "1e3"], "--timeout", "number of seconds (above 0, at most 86400)"),
        (["check", "--timeout", " 5"], "--timeout", "number of seconds (above 0, at most 86400)"),
        (["check", "--concurrency", ARABIC_ONE], "--concurrency", "positive integer"),
        (["check", "--concurrency", "1_0"], "--concurrency", "positive integer"),
        (
            ["check", "--expiry-warn-days", ARABIC_ONE],
            "--expiry-warn-days",
            "number of days (0 to 36500)",
        ),
        (
            ["check", "--expiry-warn-days", "+5"],
            "--expiry-warn-days",
            "number of days (0 to 36500)",
        ),
    ],
)
def test_numbers_in_other_digits_are_refused(
    argv: list[str], option: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--timeout, --interval, --concurrency and --expiry-warn-days take ASCII digits only:
    float() and int() took U+0661, an exponent, blanks, "_" and a sign."""
    command, value = argv[0], argv[2]
    line = one_error([*argv, "https://h.example/"], capsys)
    assert line == (
        f"tlsprobe {command}: error: argument {option}: invalid {kind} value: {value!r} "
        f"(see tlsprobe {command} --help)"
    )


@pytest.mark.parametrize(
    ("argv", "attribute", "value"),
    [
        (["check", "--timeout", "2.5"], "timeout", 2.5),
        (["check", "--timeout", ".5"], "timeout", 0.5),
        (["check", "--timeout", "3."], "timeout", 3.0),
        (["serve", "--interval", "90"], "interval", 90.0),
        (["check", "--concurrency", "08"], "concurrency", 8),
        (["check", "--expiry-warn-days", "0"], "expiry_warn_days", 0),
    ],
)
def test_numbers_in_ascii_digits_are_taken(argv: list[str], attribute: str, value: float) -> None:
    """The twin: ASCII digits, with a decimal point for seconds, are read."""
    assert getattr(build_parser().parse_args(argv), attribute) == value


# --- [defaults] reach the policy typed -----------------------------------------------------


def plan_policy(tmp_path: Path, toml: str, flags: Flags) -> Policy:
    path = write(tmp_path / "tlsprobe.toml", f'{toml}[[targets]]\nurl = "https://h/"\n')
    sources = Sources(config=Path(path))
    return make_plan(sources, flags, {}, default_timeout=10.0).policy


def test_defaults_from_the_file_are_typed_and_zero_is_a_value(tmp_path: Path) -> None:
    """[defaults] arrive as PolicyDefaults (min_tls a MinTls, ca_file a resolved Path), and
    expiry_warn_days = 0 is kept, not taken for "not given"."""
    toml = '[defaults]\ntimeout = 3\nmin_tls = "1.3"\nexpiry_warn_days = 0\nconcurrency = 4\n'
    path = write(tmp_path / "tlsprobe.toml", toml)
    assert config.load(Path(path), {}).defaults == PolicyDefaults(
        timeout=3.0, min_tls=MinTls.TLS13, expiry_warn_days=0, concurrency=4
    )
    policy = plan_policy(tmp_path, toml, Flags())
    assert policy == Policy(timeout=3.0, min_tls=MinTls.TLS13, expiry_warn_days=0, concurrency=4)


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    """The twin: each flag given wins over the file's value; what neither gives is built in."""
    toml = '[defaults]\ntimeout = 3\nmin_tls = "1.3"\nexpiry_warn_days = 0\n'
    flags = Flags(timeout=7.0, min_tls=MinTls.TLS12, expiry_warn_days=5, concurrency=2)
    policy = plan_policy(tmp_path, toml, flags)
    assert policy == Policy(timeout=7.0, min_tls=MinTls.TLS12, expiry_warn_days=5, concurrency=2)
    assert plan_policy(tmp_path, "", Flags()) == Policy(timeout=10.0)


def test_the_process_check_tells_a_live_process_from_an_ended_one() -> None:
    """`ends_within` is False for a process that runs on, True once it is killed (so the
    kill test above can fail)."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert not ends_within(child.pid, 0.2)
    finally:
        child.kill()
        child.wait()
    assert ends_within(child.pid, 5.0)
