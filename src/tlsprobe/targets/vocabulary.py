"""The words targets are written in: schemes and their ports, libpq's keywords, and which keys
name secrets. No imports of psycopg here: URLs are parsed without it (it costs ~100 ms)."""

from __future__ import annotations

import re

DEFAULT_PORTS = {"http": 80, "https": 443, "smtp": 587, "smtps": 465, "postgresql": 5432}
SCHEME_ALIASES = {
    "postgres": "postgresql",
    "postgresql+psycopg2": "postgresql",  # SQLAlchemy's forms, as airflow.cfg writes them
    "postgresql+psycopg": "postgresql",
}
# The schemes libpq itself reads; SQLAlchemy reads the others (and passes driver options).
LIBPQ_SCHEMES = ("postgresql", "postgres")
REDACTED = "***"
# RFC 3986 characters a path may hold unescaped; "%" keeps escapes already made.
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# libpq keywords whose values are secrets: those libpq itself marks secret ("*": password,
# sslpassword, oauth_client_secret) and the SCRAM keys, which stand in for a password.
SECRET_KEYWORDS = (
    "password",
    "sslpassword",
    "oauth_client_secret",
    "scram_client_key",
    "scram_server_key",
)
# Every keyword libpq 18 accepts (tests compare it with the linked libpq's own list). Anything
# else is a typo that libpq refuses ("invalid connection option").
_KEYWORDS = """service user password passfile channel_binding connect_timeout dbname host
    hostaddr port client_encoding options application_name fallback_application_name keepalives
    keepalives_idle keepalives_interval keepalives_count tcp_user_timeout sslmode sslnegotiation
    sslcompression sslcert sslkey sslcertmode sslpassword sslrootcert sslcrl sslcrldir sslsni
    requirepeer require_auth min_protocol_version max_protocol_version ssl_min_protocol_version
    ssl_max_protocol_version gssencmode krbsrvname gsslib gssdelegation replication
    target_session_attrs load_balance_hosts scram_client_key scram_server_key oauth_issuer
    oauth_client_id oauth_client_secret oauth_scope sslkeylogfile"""
LIBPQ_KEYWORDS = frozenset(_KEYWORDS.split())
# Parts of other keys (an https query, a driver option, a mistyped libpq keyword) that say the
# value is a secret. Over-redacting a harmless value costs less than printing a password.
_SECRET_WORDS = ("pas", "pw", "secret", "token", "auth", "cred", "key", "sig")


_WORD_END = re.compile(r"[\s'\\&?;,]")  # what ends a key written inside a value
# A dbname holding settings or a URI: libpq would read it as a second connection string
# (expand_dbname) and connect where it says, not where the target does.
_CONNINFO = re.compile(r"=|://")
NESTED_DBNAME = "dbname holds a connection string (give its settings instead)"


def supported_schemes() -> tuple[str, ...]:
    return tuple(DEFAULT_PORTS)


def is_secret_key(key: str) -> bool:
    """Whether the value of `key` (decoded, as libpq decodes URI keys) is to be hidden."""
    folded = key.casefold()
    if folded in SECRET_KEYWORDS:
        return True
    if key in LIBPQ_KEYWORDS:  # libpq's own, and not secret: sslkey is a path
        return False
    return any(word in folded for word in _SECRET_WORDS)


def holds_conninfo(dbname: str) -> bool:
    """Whether libpq would read `dbname` as a connection string of its own."""
    return bool(_CONNINFO.search(dbname))


def assigns_a_secret(value: str) -> bool:
    """Whether a value holds `password=...` (a key whose value was left empty took the next
    setting as its value: in `host= password=x`, "password=x" is the host)."""
    lefts = value.split("=")[:-1]
    return any(is_secret_key(_WORD_END.split(left.rstrip())[-1]) for left in lefts)
