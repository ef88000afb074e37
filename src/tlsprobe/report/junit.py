"""--format junit: one <testsuite> per target, one <testcase> per check, for CI test reports.

- fail: `<failure message="detail" type="check id">` whose text is the detail and the hint.
- skip: `<skipped message="detail"/>` (not run: not applicable, or an earlier step failed).
- warn: a *passing* test case (a warning must not turn a CI report red; `--strict` decides the
  exit code), marked with `<properties><property name="tlsprobe.status" value="warn"/>` for
  tools and with the detail and hint in `<system-out>` for people. Test-case properties are what
  pytest's `record_property` writes and what the common JUnit format describes; the one schema
  that rejects them is the strict junit-10.xsd of Jenkins' xunit plugin.
- pass: a bare test case.

Everything else follows that schema: `<testsuites>` (name, tests, failures, errors, time) holds
the suites; a suite (name, tests, failures, errors, skipped, time, timestamp) carries the target's
URL, protocol, source and TLS version as properties, and the transcript in `<system-out>` when the
target failed (CI logs are all there is to debug from) or with -vv. Checks are not timed one by
one, so a test case's time is 0 and the suite's time is the probe's. Characters XML 1.0 cannot
hold (a server's stray control bytes) become U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from tlsprobe.model import Check, Status, TargetResult, utc_text
from tlsprobe.report import RunInfo, summary

# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = clean(text)
    return element


def explained(check: Check) -> str:
    return f"{check.detail}\nhint: {check.hint}" if check.hint else check.detail


def testcase(suite: ET.Element, result: TargetResult, check: Check) -> None:
    case = _sub(suite, "testcase", classname=result.name, name=check.id, time="0")
    if check.status is Status.FAIL:
        _sub(case, "failure", explained(check), message=check.detail, type=check.id)
    elif check.status is Status.SKIP:
        _sub(case, "skipped", message=check.detail)
    elif check.status is Status.WARN:
        properties = _sub(case, "properties")
        _sub(properties, "property", name="tlsprobe.status", value="warn")
        _sub(case, "system-out", f"WARN {check.id}: {explained(check)}")


def suite_properties(suite: ET.Element, result: TargetResult, info: RunInfo) -> None:
    properties = _sub(suite, "properties")
    values = [
        ("tlsprobe.target", result.target),
        ("tlsprobe.protocol", result.protocol),
        ("tlsprobe.source", result.source),
        ("tlsprobe.status", result.status.value),
    ]
    if result.tls is not None:
        values.append(("tlsprobe.tls_version", result.tls.version))
    if info.interrupted:
        values.append(("tlsprobe.interrupted", "true"))
    for name, value in values:
        _sub(properties, "property", name=name, value=value)


def testsuite(root: ET.Element, result: TargetResult, info: RunInfo) -> None:
    counts = {s: sum(c.status is s for c in result.checks) for s in Status}
    suite = _sub(
        root,
        "testsuite",
        name=result.name,
        tests=str(len(result.checks)),
        failures=str(counts[Status.FAIL]),
        errors="0",
        skipped=str(counts[Status.SKIP]),
        time=f"{result.elapsed_ms / 1000:.3f}",
        timestamp=utc_text(info.started_at),
    )
    suite_properties(suite, result, info)
    for check in result.checks:
        testcase(suite, result, check)
    wanted = result.status is Status.FAIL or info.verbosity >= 2
    if wanted and result.transcript:
        _sub(suite, "system-out", "\n".join(result.transcript))


def render(results: Sequence[TargetResult], info: RunInfo, color: bool = False) -> str:
    del color  # XML is never coloured
    failures = sum(c.status is Status.FAIL for r in results for c in r.checks)
    root = ET.Element(
        "testsuites",
        name="tlsprobe",
        tests=str(sum(len(r.checks) for r in results)),
        failures=str(failures),
        errors="0",
        time=f"{info.elapsed_s:.3f}",
    )
    for result in results:
        testsuite(root, result, info)
    ET.indent(root)
    counts = summary(results)
    comment = f"tlsprobe: {counts['targets']} targets, {counts['fail']} failed"
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- {comment} -->\n{body}\n'
