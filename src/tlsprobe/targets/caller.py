"""Targets a caller chooses (`tlsprobe serve --allow-any-target`, `/probe?target=` naming no
configured target): they get nothing of the exporter's. The one place that rule is written.

What a caller may not give (the exporter answers 400, naming the keyword, before any file is
looked at):
- a libpq keyword that names a file on the exporter's machine: sslcert, sslkey, sslrootcert
  (except `system`, a word and not a file), sslcrl, sslcrldir, passfile, sslkeylogfile (a file
  libpq would *write*), and service (a section of the exporter's service files). Whether such a
  file exists, or holds a key or a certificate, changes libpq's answer: that alone would tell
  a caller which files the exporter's machine has.
- Kerberos (gssencmode, krbsrvname, gsslib, gssdelegation) and require_auth: GSSAPI would log
  in with the exporter's own ticket; the probe itself forbids gss and sspi (require_auth).
- OAuth (oauth_issuer, oauth_client_id, oauth_client_secret, oauth_scope): libpq would run a
  device flow in the exporter's process, prompting on its stderr.

What such a target is never lent (`Target.lends_nothing`, honoured by pgsettings.resolve, the
PostgreSQL probe, libpq_files and the secrets scrub): libpq's environment (PGPASSWORD,
PGPASSFILE, PGUSER, PGSSLKEY, PGSSLCERT, PGSSLROOTCERT, PGSSLMODE, ... all of it), the files
under the exporter's home (~/.pgpass, ~/.pg_service.conf, ~/.postgresql/postgresql.crt and
.key, root.crt, root.crl), and the exporter's passwords in the scrub (a server echoing
guesses would learn which one was hidden). libpq gets every keyword it would read from the
environment set explicitly, files pointing at NOWHERE.

What it is lent, because it is trust and not a secret, and is what the verdict is judged
against: --ca-file, and the system store (with SSL_CERT_FILE and SSL_CERT_DIR, which replace
it for every client in the process). https and smtp targets from a URL can carry no client
certificate (the URL fragment takes only connect= and expect_status=); their credentials are
only the ones the caller writes in the URL.
"""

from __future__ import annotations

from dataclasses import replace

from tlsprobe.failures import UsageError
from tlsprobe.targets.target import Target

__all__ = ["FILE_KEYWORDS", "NOWHERE", "REFUSED", "SOURCE", "for_caller", "refusal"]

# A path that can never exist (a directory entry under a character device): libpq treats it as
# a missing file (ENOTDIR, as ENOENT) and says nothing, where an empty value would send it to
# the exporter's home instead.
NOWHERE = "/dev/null/tlsprobe-lends-nothing"

_FILE = "names a file on the exporter's machine"
_KERBEROS = "would log in with the exporter's Kerberos credentials"
_OAUTH = "would run an OAuth flow in the exporter's process"
FILE_KEYWORDS = (
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "passfile",
    "sslkeylogfile",
)
REFUSED: dict[str, str] = {
    **dict.fromkeys(FILE_KEYWORDS, _FILE),
    "service": "names a section of the exporter's service files",
    **dict.fromkeys(("gssencmode", "krbsrvname", "gsslib", "gssdelegation"), _KERBEROS),
    "require_auth": "is the exporter's to set (it refuses gss and sspi for callers)",
    **dict.fromkeys(
        ("oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope"), _OAUTH
    ),
}
SOURCE = "/probe request"
# sslrootcert=system: the system store, no file of the caller's choosing.
ALLOWED_VALUES = {"sslrootcert": ("system",)}


def for_caller(text: str) -> Target:
    """The target a caller names, lending nothing of the exporter's; UsageError (the
    exporter's 400) when it is malformed or asks for what a caller may not have."""
    from tlsprobe.targets import parse_target

    target = parse_target(text)  # its errors worded as for the command line, as before
    if (why := refusal(target)) is not None:
        raise UsageError(f"{target.display}: {why}")
    return replace(
        target,
        source=SOURCE,
        client_cert=None,
        client_key=None,
        client_key_password=None,
        trust=None,
        lends_nothing=True,
    )


def refusal(target: Target) -> str | None:
    """Why a caller may not have `target`, or None."""
    for key, value in target.params:
        folded = key.lower()
        if folded in REFUSED and value not in ALLOWED_VALUES.get(folded, ()):
            return f"{folded} {REFUSED[folded]}: not accepted in a caller's target"
    return None
