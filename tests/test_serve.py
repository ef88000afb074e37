"""`tlsprobe serve` over real HTTP on ephemeral ports: /probe, /metrics, refusals, the scrape
deadline, rounds, shutdown, and no secret in any answer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import interruptible
from tlsprobe import exporter as serve
from tlsprobe.exporter import Exporter, RoundCollector, scrape_deadline
from tlsprobe.exporter import app as serve_app
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.report.prometheus import exposition
from tlsprobe.targets import Target, parse_target

EPHEMERAL = ("127.0.0.1", 0)
SECRET = "Sup3rSecret"


def with_password(url: str) -> str:
    return url.replace("https://", f"https://user:{SECRET}@")


@pytest.fixture(scope="module")
def configured(lab: Lab) -> Iterator[Exporter]:
    """An exporter for a good target named "web", an expired one, and one with a password."""
    targets = [
        parse_target(lab.url("https-good"), name="web"),
        parse_target(lab.url("https-expired")),
        parse_target(with_password(lab.url("https-good")), name="secret"),
    ]
    policy = Policy(timeout=3.0, ca_file=lab.ca_file)
    with Exporter(targets, policy, interval=60.0, listen=EPHEMERAL) as exporter:
        yield exporter


@pytest.fixture(scope="module")
def open_exporter(lab: Lab) -> Iterator[Exporter]:
    """An exporter with nothing configured that probes any target, with a 1.2 s --timeout."""
    policy = Policy(timeout=1.2, ca_file=lab.ca_file)
    with Exporter([], policy, allow_any=True, listen=EPHEMERAL) as exporter:
        yield exporter


def get(exporter: Exporter, path: str, params: Any = None, **headers: str) -> httpx.Response:
    host, port = exporter.address
    return httpx.get(f"http://{host}:{port}{path}", params=params, headers=headers, timeout=15)


def metric(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[frozenset(sample.labels.items())] = sample.value
    return found


def only(values: dict[frozenset[tuple[str, str]], float]) -> float:
    assert len(values) == 1, values
    return next(iter(values.values()))


def wait_for_round(exporter: Exporter) -> str:
    """The /metrics text once the first round has finished."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = get(exporter, "/metrics").text
        if only(metric(text, "tlsprobe_rounds_total")) >= 1:
            return text
        time.sleep(0.05)
    raise AssertionError("no round finished within 15 s")


def test_probe_of_a_good_target_succeeds(configured: Exporter, lab: Lab) -> None:
    """/probe of a configured good target answers 200 with tlsprobe_success 1."""
    response = get(configured, "/probe", {"target": lab.url("https-good")})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert only(metric(response.text, "tlsprobe_success")) == 1


def test_probe_of_a_failing_target_reports_zero(configured: Exporter, lab: Lab) -> None:
    """The twin: an expired target still answers 200 (the scrape worked) with success 0."""
    response = get(configured, "/probe", {"target": lab.url("https-expired")})
    assert response.status_code == 200
    assert only(metric(response.text, "tlsprobe_success")) == 0


def test_probe_by_name_uses_the_configured_target(configured: Exporter) -> None:
    """A configured target can be named by its name, and keeps that name in the labels."""
    response = get(configured, "/probe", {"target": "web"})
    labels = dict(next(iter(metric(response.text, "tlsprobe_success"))))
    assert labels["name"] == "web"


def test_unconfigured_target_is_refused(configured: Exporter, lab: Lab) -> None:
    """A target outside the configuration gets 403 and one line saying how to allow it."""
    response = get(configured, "/probe", {"target": lab.url("https-no-hsts")})
    assert response.status_code == 403
    assert response.text.count("\n") == 1
    assert "--allow-any-target" in response.text


def test_any_target_allowed_when_asked(open_exporter: Exporter, lab: Lab) -> None:
    """The twin: with --allow-any-target the same target is probed."""
    response = get(open_exporter, "/probe", {"target": lab.url("https-no-hsts")})
    assert response.status_code == 200
    assert only(metric(response.text, "tlsprobe_success")) == 1


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"target": "ftp://host"}, "unknown scheme"),
        ({"target": "not a url"}, "not a URL"),
        ({"target": ""}, "exactly one target"),
        ({}, "exactly one target"),
        ({"target": ["https://a", "https://b"]}, "exactly one target"),
    ],
)
def test_malformed_target_is_400(open_exporter: Exporter, params: Any, says: str) -> None:
    """A malformed, missing or repeated target is a 400 that names the problem."""
    response = get(open_exporter, "/probe", params)
    assert response.status_code == 400
    assert says in response.text


def test_unknown_path_is_404(open_exporter: Exporter) -> None:
    """Paths other than /, /probe and /metrics are 404."""
    assert get(open_exporter, "/nope").status_code == 404
    assert get(open_exporter, "/").status_code == 200


def test_metrics_after_one_round(configured: Exporter, lab: Lab) -> None:
    """/metrics serves every configured target from the first finished round."""
    text = wait_for_round(configured)
    success = {dict(k)["name"]: v for k, v in metric(text, "tlsprobe_success").items()}
    assert success == {"web": 1, lab.url("https-expired"): 0, "secret": 1}
    assert only(metric(text, "tlsprobe_round_end_timestamp_seconds")) <= time.time()
    assert only(metric(text, "tlsprobe_round_duration_seconds")) > 0


def test_metrics_before_any_round_are_empty() -> None:
    """The twin: before a round has finished only the round counter is served, at 0."""
    text = exposition(RoundCollector(lambda: None))
    assert only(metric(text, "tlsprobe_rounds_total")) == 0
    assert metric(text, "tlsprobe_success") == {}


def test_scrape_timeout_header_sets_the_deadline(open_exporter: Exporter, lab: Lab) -> None:
    """X-Prometheus-Scrape-Timeout-Seconds 0.9 gives a silent server 0.4 s, not --timeout 1.2 s."""
    started = time.monotonic()
    response = get(
        open_exporter,
        "/probe",
        {"target": lab.url("https-silent")},
        **{"X-Prometheus-Scrape-Timeout-Seconds": "0.9"},
    )
    assert time.monotonic() - started < 0.9
    assert only(metric(response.text, "tlsprobe_success")) == 0
    assert 0.3 < only(metric(response.text, "tlsprobe_duration_seconds")) < 0.8


def test_without_the_header_the_deadline_is_the_timeout(open_exporter: Exporter, lab: Lab) -> None:
    """The twin: without the header the silent server gets the whole --timeout."""
    response = get(open_exporter, "/probe", {"target": lab.url("https-silent")})
    assert only(metric(response.text, "tlsprobe_duration_seconds")) >= 1.1


@pytest.mark.parametrize(
    ("header", "deadline"),
    [
        (None, 5.0),
        ("junk", 5.0),
        ("-1", 5.0),
        ("nan", 5.0),
        ("inf", 5.0),
        ("10", 5.0),
        ("3", 2.5),
        ("0.3", 0.1),
    ],
)
def test_scrape_deadline(header: str | None, deadline: float) -> None:
    """The deadline is the header minus 0.5 s, at least 0.1 s, capped by --timeout (here 5 s)."""
    assert scrape_deadline(header, 5.0) == deadline


class FakeRun:
    """A round that takes 50 ms, recording how many rounds ever ran at once."""

    active = most = rounds = 0
    fail_first = False

    def __init__(self, targets: list[Target], policy: Policy) -> None:
        del targets, policy

    async def execute(self) -> list[TargetResult]:
        cls = FakeRun
        cls.active += 1
        cls.most = max(cls.most, cls.active)
        try:
            await asyncio.sleep(0.05)
            if cls.fail_first and cls.rounds == 0:
                cls.rounds += 1
                raise RuntimeError("boom")
            cls.rounds += 1
            return []
        finally:
            cls.active -= 1


def run_rounds(monkeypatch: pytest.MonkeyPatch, *, fail_first: bool) -> serve.Round:
    monkeypatch.setattr(FakeRun, "fail_first", fail_first)
    for name in ("active", "most", "rounds"):
        monkeypatch.setattr(FakeRun, name, 0)
    monkeypatch.setattr(serve_app, "Run", FakeRun)
    target = parse_target("https://127.0.0.1:1/")
    with Exporter([target], Policy(), interval=0.01, listen=EPHEMERAL) as exporter:
        deadline = time.monotonic() + 10
        while (done := exporter.last_round) is None or done.number < 4:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    return done


def test_rounds_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """With an interval shorter than a round, rounds still run one at a time, back to back."""
    assert run_rounds(monkeypatch, fail_first=False).number >= 4
    assert FakeRun.most == 1


def test_a_failed_round_does_not_stop_the_rounds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a round that raises is reported on stderr and the next rounds still come."""
    assert run_rounds(monkeypatch, fail_first=True).number >= 4
    assert "round failed: RuntimeError" in capsys.readouterr().err


def test_no_secret_in_any_answer(
    configured: Exporter, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """No answer (metrics, probes, 400s, 403s) and no log line holds the password, while the
    target itself does show up, as user:***@."""
    secret_url = with_password(lab.url("https-good"))
    display = secret_url.replace(SECRET, "***")
    answers = [
        get(configured, "/metrics"),
        get(configured, "/probe", {"target": secret_url}),
        get(configured, "/probe", {"target": display}),
        get(configured, "/probe", {"target": "secret"}),
        get(configured, "/probe", {"target": f"https://user:{SECRET}@localhost:99999/"}),
        get(configured, "/probe", {"target": f"https://user:{SECRET}@elsewhere.invalid/"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 400, 403]
    for answer in answers:
        assert SECRET not in answer.text
    assert "user:***@localhost" in answers[2].text
    assert only(metric(answers[2].text, "tlsprobe_success")) == 1  # probed with the password
    assert SECRET not in capsys.readouterr().err


def test_port_in_use_is_a_usage_error(configured: Exporter) -> None:
    """Listening where another server listens is a usage error naming --listen."""
    with pytest.raises(UsageError, match=r"--listen 127\.0\.0\.1:"):
        Exporter([], Policy(), listen=configured.address).start()


def test_stop_closes_the_port(lab: Lab) -> None:
    """After stop() the port refuses connections; before it, it answers."""
    exporter = Exporter([], Policy(), allow_any=True, listen=EPHEMERAL).start()
    assert get(exporter, "/").status_code == 200
    exporter.stop()
    with pytest.raises(httpx.ConnectError):
        get(exporter, "/")


def test_serve_command_answers_and_stops_on_ctrl_c(lab: Lab) -> None:
    """`tlsprobe serve` prints where it listens, answers a scrape, and exits 0 on Ctrl-C."""
    argv = ["serve", "--listen", "127.0.0.1:0", "--allow-any-target", "--ca-file", str(lab.ca_file)]
    with subprocess.Popen(
        interruptible("-m", "tlsprobe", *argv),
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            assert "listening on http://127.0.0.1:" in line
            url = line.split("listening on ", 1)[1].split()[0]
            response = httpx.get(
                f"{url}probe", params={"target": lab.url("https-good")}, timeout=15
            )
            assert only(metric(response.text, "tlsprobe_success")) == 1
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
            assert "Traceback" not in process.stderr.read()
        finally:
            process.kill()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve"], "no targets"),
        (["serve", "--listen", "nonsense", "--allow-any-target"], "--listen"),
    ],
)
def test_serve_command_bad_input_is_exit_2(argv: list[str], says: str) -> None:
    """The twin: nothing to serve, or a bad --listen, is exit 2 with one line on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "tlsprobe", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert says in done.stderr
    assert len(done.stderr.splitlines()) == 1
