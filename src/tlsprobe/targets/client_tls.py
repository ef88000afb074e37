"""client.encryption: does the connection *as configured* encrypt and verify? Pure functions:
the server may offer perfect TLS while the client is set up never to use it."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from tlsprobe.model import Check, Fix, Status
from tlsprobe.records import record


class Encrypts(enum.Enum):
    NO = "no"
    MAYBE = "maybe"  # tries TLS but silently falls back to plaintext
    YES = "yes"


@record
class ClientTls:
    """How a configured client will connect: `setting` quotes the configuration."""

    setting: str
    encrypts: Encrypts
    verifies_chain: bool = True
    verifies_host: bool = True
    # The change to make, in the source's own terms (an Airflow extra or airflow.cfg key); when
    # empty, the generic hint of the verdict.
    hint: str = ""
    # The client will not connect at all as configured (Airflow's SMTP hook calling STARTTLS
    # inside implicit TLS, say): client.encryption fails, saying why in `setting`.
    broken: bool = False
    # The kind of change (a model.Fix) a source may word in its own terms, when `hint` is empty.
    fix: str = ""


def judge(client: ClientTls) -> Check:
    """fail when it will not connect or does not encrypt, warn when it may not encrypt or
    does not verify, else pass; the hint is the source's own when it gave one."""
    status, detail, hint = _verdict(client)
    if status is Status.PASS:
        return Check("client.encryption", status, detail, hint)
    if client.hint:
        return Check("client.encryption", status, detail, client.hint)
    # A generic hint a source may word in its own terms (Target.terms: an Airflow extra).
    fix = client.fix or (Fix.ENCRYPTION if not client.broken else "")
    return Check("client.encryption", status, detail, hint, fix)


def _verdict(client: ClientTls) -> tuple[Status, str, str]:
    if client.broken:
        detail = f"the client as configured cannot connect ({client.setting})"
        return Status.FAIL, detail, "change the client's configuration as the detail says"
    if client.encrypts is Encrypts.NO:
        return (
            Status.FAIL,
            f"the client is configured not to encrypt ({client.setting})",
            "enable TLS in the client's configuration",
        )
    if client.encrypts is Encrypts.MAYBE:
        return (
            Status.WARN,
            f"the client falls back to plaintext without a word ({client.setting})",
            "require TLS and verify the certificate (for PostgreSQL: sslmode=verify-full)",
        )
    if not client.verifies_chain:
        return (
            Status.WARN,
            f"the client encrypts but does not verify the certificate ({client.setting})",
            "verify the certificate chain (for PostgreSQL: sslmode=verify-full and sslrootcert)",
        )
    if not client.verifies_host:
        return (
            Status.WARN,
            f"the client verifies the chain but not the host name ({client.setting})",
            "check the host name too (for PostgreSQL: sslmode=verify-full)",
        )
    return Status.PASS, f"encrypts and verifies ({client.setting})", ""


# libpq's sslmode, as the client would behave (with a root certificate or without one).
_SSLMODES = {
    "disable": ClientTls("", Encrypts.NO, False, False),
    "allow": ClientTls("", Encrypts.MAYBE, False, False),
    "prefer": ClientTls("", Encrypts.MAYBE, False, False),
    "require": ClientTls("", Encrypts.YES, False, False),
    "verify-ca": ClientTls("", Encrypts.YES, True, False),
    "verify-full": ClientTls("", Encrypts.YES, True, True),
}


def for_sslmode(sslmode: str | None, root_cert: str | None, origin: str = "") -> ClientTls | None:
    """libpq's behaviour for an sslmode. `require` with a root certificate file verifies the
    chain, as libpq documents; None for a mode libpq does not know (the probe reports it)."""
    mode = (sslmode or "prefer").lower()
    if mode not in _SSLMODES:
        return None
    setting = f"sslmode={mode}{origin}" if sslmode else "sslmode not set: libpq's default prefer"
    base = _SSLMODES[mode]
    verifies_chain = base.verifies_chain or (mode == "require" and bool(root_cert))
    return ClientTls(setting, base.encrypts, verifies_chain, base.verifies_host)


def for_postgres_params(params: Mapping[str, str], env: Mapping[str, str]) -> ClientTls | None:
    """The sslmode a libpq client would use: the target's own, else PGSSLMODE, else prefer."""
    if "sslmode" in params:
        return for_sslmode(params["sslmode"], params.get("sslrootcert"))
    root = params.get("sslrootcert") or env.get("PGSSLROOTCERT")
    if "PGSSLMODE" in env:
        return for_sslmode(env["PGSSLMODE"], root, " from PGSSLMODE")
    if root == "system":  # libpq 16 and later: then verify-full is the default
        return for_sslmode("verify-full", root, " (libpq's default with sslrootcert=system)")
    return for_sslmode(None, None)  # prefer may fall back: a root certificate changes nothing


def for_http(url_scheme: str, origin: str) -> ClientTls:
    if url_scheme == "http":
        return ClientTls(f"{origin}: plain http://", Encrypts.NO, False, False)
    return ClientTls(f"{origin}: https://", Encrypts.YES)
