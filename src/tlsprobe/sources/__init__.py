"""Where targets come from besides the command line: tlsprobe.toml, airflow.cfg, the Airflow
environment and connection exports. Sources read files and the environment, never the network."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tlsprobe.failures import UsageError
from tlsprobe.targets import Target


def ca_file_problem(path: Path) -> str | None:
    """What is wrong with a file of trusted roots, in a few words, or None."""
    import ssl

    if path.is_dir():
        return "is a directory, not a PEM file"
    if not path.is_file():
        return "no such file"
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError):  # SSLError first: it is an OSError too
        return "not a PEM file of CA certificates"
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    return None


@dataclass
class Collected:
    """What the sources found: targets to probe, and notes on what was seen but not probed."""

    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Collected) -> None:
        self.targets.extend(other.targets)
        self.notes.extend(other.notes)
        self.warnings.extend(other.warnings)
        self.defaults.update(other.defaults)


def read_text(path: Path, what: str) -> str:
    """A source file's text; a missing, unreadable or non-UTF-8 file (or a directory) is a
    UsageError naming the file and `what` it was meant to be."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise UsageError(f"{path}: cannot read it ({why})") from None


def userinfo(user: str | None, password: str | None) -> str:
    """`user:password@` for a URL, percent-encoded; "@" stays in a user name, as Airflow
    writes them (and as target parsing expects). Empty without a user."""
    if not user:
        return ""
    info = quote(user, safe="@")
    if password is not None:
        info += ":" + quote(password, safe="")
    return info + "@"
