"""Where targets come from besides the command line: tlsprobe.toml, airflow.cfg, the Airflow
environment and connection exports. Sources read files and the environment, never the network."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tlsprobe.failures import UsageError
from tlsprobe.model import MinTls
from tlsprobe.records import record
from tlsprobe.targets import Target

MAX_BYTES = 2 * 1024 * 1024  # of a source file: far above any real one, and a bound on the work


def named(path: Path) -> str:
    """A file's name for a one-line message (a name may hold a line break)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


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


@record
class PolicyDefaults:
    """tlsprobe.toml's [defaults], checked: None where the file sets none (a flag, then the
    built-in default applies)."""

    timeout: float | None = None
    min_tls: MinTls | None = None
    expiry_warn_days: int | None = None
    ca_file: Path | None = None  # resolved, and a readable PEM file of roots
    concurrency: int | None = None
    tls_legacy: bool | None = None
    expiry_warn_fraction: float | None = None
    expiry_fail_days: int | None = None
    revocation: bool | None = None


@dataclass
class Collected:
    """What the sources found: targets to probe, and notes on what was seen but not probed."""

    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    defaults: PolicyDefaults = field(default_factory=PolicyDefaults)
    # tlsprobe.toml's [modules.NAME]: the options a /probe?module=NAME scrape takes.
    modules: dict[str, PolicyDefaults] = field(default_factory=dict)

    def extend(self, other: Collected) -> None:
        self.targets.extend(other.targets)
        self.notes.extend(other.notes)
        self.warnings.extend(other.warnings)
        if other.defaults != PolicyDefaults():  # one source has defaults: tlsprobe.toml
            self.defaults = other.defaults
        self.modules.update(other.modules)


def read_text(path: Path, what: str) -> str:
    """A source file's text, at most MAX_BYTES; a missing, unreadable, oversized or non-UTF-8
    file (or a directory) is a UsageError naming the file and `what` it was meant to be."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise UsageError(f"{named(path)}: larger than {MAX_BYTES // 2**20} MiB ({what})")
        return data.decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"{named(path)}: no such file ({what})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{named(path)}: cannot read it (not UTF-8 text)") from None
    except OSError as exc:
        raise UsageError(f"{named(path)}: cannot read it ({exc.strerror or exc})") from None
