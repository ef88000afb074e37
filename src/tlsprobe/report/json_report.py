"""--format json: schema tlsprobe/1 (see DESIGN.md); new fields may be added, none renamed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from tlsprobe import __version__
from tlsprobe.model import TargetResult
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
        "tls": asdict(result.tls) if result.tls else None,
        "transcript": list(result.transcript),
        "facts": dict(result.facts),
    }


def document(results: Sequence[TargetResult], info: RunInfo) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "tlsprobe_version": __version__,
        "started_at": info.started_at,
        "elapsed_s": round(info.elapsed_s, 3),
        "interrupted": info.interrupted,
        "summary": summary(results),
        "results": [result_dict(r) for r in results],
    }


def render(results: Sequence[TargetResult], info: RunInfo, color: bool = False) -> str:
    del color  # JSON is never coloured
    return json.dumps(document(results, info), indent=2) + "\n"
