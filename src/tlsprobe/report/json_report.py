"""--format json: schema tlsprobe/1 (see DESIGN.md); new fields may be added, none renamed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tlsprobe import __version__
from tlsprobe.model import TargetResult, TlsInfo, TrustUsed, utc_text
from tlsprobe.report import RunInfo, summary

SCHEMA = "tlsprobe/1"


def result_dict(result: TargetResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "target": result.target,
        "protocol": result.protocol,
        "host": result.host,
        "port": result.port,
        "source": result.source,
        "status": result.status.value,
        "elapsed_ms": result.elapsed_ms,
        "checks": [
            {"id": c.id, "status": c.status.value, "detail": c.detail, "hint": c.hint}
            for c in result.checks
        ],
        "tls": tls_dict(result.tls) if result.tls else None,
        "transcript": list(result.transcript),
        "facts": dict(result.facts),
        "trust": trust_dict(result.trust) if result.trust else None,
    }


def trust_dict(trust: TrustUsed) -> dict[str, Any]:
    return {
        "client": trust.client,
        "used": list(trust.used),
        "anchor": trust.anchor or None,
        "ca_file_needed": trust.ca_file_needed,
    }


def tls_dict(tls: TlsInfo) -> dict[str, Any]:
    # By hand, not dataclasses.asdict: asdict deep-copies recursively and was a quarter of the
    # time spent rendering a thousand results.
    return {
        "version": tls.version,
        "cipher": tls.cipher,
        "alpn": tls.alpn,
        "chain": [
            {
                "subject": c.subject,
                "issuer": c.issuer,
                "not_before": utc_text(c.not_before),
                "not_after": utc_text(c.not_after),
                "sha256": c.sha256,
                "key": c.key,
                "signature": c.signature,
                "san": list(c.san),
                "on_verified_path": tls.on_path[i] if tls.on_path else None,
            }
            for i, c in enumerate(tls.chain)
        ],
        "verified_path": list(tls.verified_path),
    }


def document(results: Sequence[TargetResult], info: RunInfo) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "tlsprobe_version": __version__,
        "started_at": utc_text(info.started_at),
        "elapsed_s": round(info.elapsed_s, 3),
        "interrupted": info.interrupted,
        "summary": summary(results),
        "results": [result_dict(r) for r in results],
    }


def render(results: Sequence[TargetResult], info: RunInfo, color: bool = False) -> str:
    """The document indented, each result on one line of its own. json.dumps with `indent`
    takes the pure-Python encoder, which made a thousand results take most of a second; the
    C encoder writes each result, and the layout still diffs and greps one result per line."""
    del color  # JSON is never coloured
    whole = document(results, info)
    rows = whole.pop("results")
    head = json.dumps(whole, indent=2)[:-2]  # without the closing "\n}"
    if not rows:
        return head + ',\n  "results": []\n}\n'
    body = ",\n".join("    " + json.dumps(row, ensure_ascii=False) for row in rows)
    return head + ',\n  "results": [\n' + body + "\n  ]\n}\n"
