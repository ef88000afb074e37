"""Client certificates and their keys, against real servers that require one: an encrypted key is
used with its password (sslpassword, Target.client_key_password), fails the handshake step at
once without it, and never makes OpenSSL or libpq prompt on a terminal."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import check, probe_targets, statuses
from tlsprobe import tls
from tlsprobe.failures import ClientKeyError, Kind, explain
from tlsprobe.lab import Lab
from tlsprobe.lab.https import CLIENT_IDENTITY
from tlsprobe.model import Check, Policy, Status, TargetResult
from tlsprobe.probes.base import ProbeState
from tlsprobe.probes.postgres.login import login
from tlsprobe.targets import Target, parse_target, pgsettings

TIMEOUT = 3.0
PASSPHRASE = "correct horse; battery"
QUICK_MS = 1000  # "at once": a third of the deadline, for reading two files and no connection
P, F, S = "pass", "fail", "skip"
HTTPS_IDS = ("connect", "tls.handshake", "tls.version", "cert.chain", "cert.hostname")
HTTPS_IDS += ("cert.expiry", "tls.legacy", "http.status", "http.hsts")
PG_IDS = ("connect", "pg.sslrequest", "tls.handshake", "tls.version", "cert.chain")
PG_IDS += ("cert.hostname", "cert.expiry", "tls.legacy", "pg.plaintext", "pg.login")
PG_IDS += ("client.encryption",)
GIVE_TOML = (
    "set client_key_password_env in tlsprobe.toml to the name of an environment variable"
    " holding the key's passphrase"
)
GIVE_PG = (
    "set sslpassword to the key's passphrase (?sslpassword= in a URL, sslpassword= in a"
    " keyword string)"
)
WRONG_PG = "check sslpassword: it is not this key's passphrase"
MISMATCH_HINT = "give the key the client certificate was issued for"


@dataclass(frozen=True)
class Keys:
    """The lab's client certificate and its key in every shape a user could hand over."""

    cert: Path
    plain: Path
    encrypted: Path  # PKCS#8, as `openssl pkcs8 -topk8` writes it
    encrypted_legacy: Path  # "Proc-Type: 4,ENCRYPTED", as `openssl rsa -aes256` writes it
    stranger: Path  # a key of no certificate here
    not_pem: Path
    folder: Path


@pytest.fixture(scope="module")
def keys(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    here = tmp_path_factory.mktemp("keys")
    cert = here / "client.pem"
    shutil.copyfile(lab.ca_file.with_name(f"{CLIENT_IDENTITY}.pem"), cert)
    plain_pem = lab.ca_file.with_name(f"{CLIENT_IDENTITY}.key").read_bytes()
    key = serialization.load_pem_private_key(plain_pem, password=None)
    locked = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    pem = serialization.Encoding.PEM
    stranger = ec.generate_private_key(ec.SECP256R1())
    contents = {
        "plain.key": plain_pem,
        "encrypted.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, locked),
        "legacy.key": key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, locked
        ),
        "stranger.key": stranger.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "not-pem.key": b"this is not a key\n",
    }
    for name, data in contents.items():
        (here / name).write_bytes(data)
        (here / name).chmod(0o600)  # libpq refuses a key others can read
    return Keys(
        cert,
        here / "plain.key",
        here / "encrypted.key",
        here / "legacy.key",
        here / "stranger.key",
        here / "not-pem.key",
        here,
    )


ENCRYPTED = "the client key {key} is encrypted: give its password"
UNDECRYPTED = "the client key {key} does not decrypt with the password given"
NO_PEM_KEY = ("the client key file {key} holds no PEM key", "give the key in PEM")


TOML, PG = "client_key_password_env", "sslpassword"
# (certificate, key, password, where it is set) -> (detail, hint); files by their Keys name.
LOADING_PROBLEMS = {
    ("cert", "encrypted", None, TOML): (ENCRYPTED, GIVE_TOML),
    ("cert", "encrypted", "", PG): (ENCRYPTED, GIVE_PG),
    ("cert", "encrypted", "wrong", PG): (UNDECRYPTED, WRONG_PG),
    ("cert", "encrypted_legacy", "wrong", PG): (UNDECRYPTED, WRONG_PG),
    ("cert", "stranger", None, ""): (
        "the client key {key} does not belong to the certificate {cert}",
        MISMATCH_HINT,
    ),
    ("cert", "not_pem", None, ""): NO_PEM_KEY,
    ("cert", None, None, ""): (
        "the client key file {cert} holds no PEM key",
        "give the key in PEM",
    ),
    ("not_pem", "plain", None, ""): (
        "the client certificate file {cert} holds no PEM certificate",
        "give the certificate in PEM",
    ),
    ("cert", "gone", None, ""): (
        "the client key file {key} does not exist",
        "check the client key's path",
    ),
    ("gone", "plain", None, ""): (
        "the client certificate file {cert} does not exist",
        "check the client certificate's path",
    ),
    ("cert", "folder", None, ""): (
        "cannot read the client key file {key} (is a directory)",
        "let the user tlsprobe runs as read the client key file",
    ),
}


@pytest.mark.parametrize(("given", "expected"), LOADING_PROBLEMS.items())
def test_every_loading_problem_is_named(
    keys: Keys, given: tuple[str, str | None, str | None, str], expected: tuple[str, str]
) -> None:
    """Each way a certificate and key can be unusable gets its own detail naming the file and a
    hint in the target's terms, with no password in either; the kind is CLIENT_KEY."""
    cert, key, password, setting = given
    cert_path, key_path = key_file(keys, cert), key_file(keys, key) if key else None
    client_cert = tls.ClientCert(str(cert_path), key_path and str(key_path), password, setting)
    with pytest.raises(ClientKeyError) as raised:
        tls.check_client_cert(client_cert)
    why = explain(raised.value)
    assert why.kind is Kind.CLIENT_KEY
    detail, hint = expected
    assert (why.detail, why.hint) == (detail.format(cert=cert_path, key=key_path), hint)


def key_file(keys: Keys, name: str) -> Path:
    """The file called `name` in Keys, or `gone`: one that does not exist."""
    return keys.folder / "gone.pem" if name == "gone" else Path(getattr(keys, name))


@pytest.mark.parametrize("shape", ["encrypted", "encrypted_legacy"])
def test_encrypted_key_loads_with_its_password(keys: Keys, shape: str) -> None:
    """The good twin: both PEM encryption formats load with the right password, and a plain
    key loads whether or not a password is configured (OpenSSL never asks for it)."""
    key = str(getattr(keys, shape))
    tls.check_client_cert(tls.ClientCert(str(keys.cert), key, PASSPHRASE, "sslpassword"))
    tls.check_client_cert(tls.ClientCert(str(keys.cert), str(keys.plain), "unused", "sslpassword"))
    tls.check_client_cert(tls.ClientCert(str(keys.cert), str(keys.plain)))


def test_password_is_part_of_the_cached_context(keys: Keys) -> None:
    """Contexts are cached per client certificate including its password: a wrong password is
    not served the context a right one built, and the password is not in the repr."""
    right = tls.ClientCert(str(keys.cert), str(keys.encrypted), PASSPHRASE, "sslpassword")
    wrong = dataclasses.replace(right, password="wrong")
    assert tls.context(tls.Mode.VERIFY, None, (), right) is tls.context(
        tls.Mode.VERIFY, None, (), right
    )
    with pytest.raises(ClientKeyError):
        tls.context(tls.Mode.VERIFY, None, (), wrong)
    assert PASSPHRASE not in repr(right)


# --- HTTPS: the lab server that requires a client certificate -----------------------------------


def https_probe(lab: Lab, keys: Keys, key: Path, password: str | None) -> TargetResult:
    target = dataclasses.replace(
        parse_target(lab.url("https-client-cert-required")),
        client_cert=str(keys.cert),
        client_key=str(key),
        client_key_password=password,
    )
    (result,) = probe_targets([target], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    return result


def only_handshake_failed(ids: tuple[str, ...]) -> dict[str, str]:
    return {i: F if i == "tls.handshake" else S for i in ids}


@pytest.mark.parametrize("shape", ["encrypted", "encrypted_legacy", "plain"])
def test_https_key_with_its_password_passes(lab: Lab, keys: Keys, shape: str) -> None:
    """An encrypted key with its password (and a plain key, the password unused) gets the
    server's page: every check passes."""
    result = https_probe(lab, keys, getattr(keys, shape), PASSPHRASE)
    assert statuses(result) == dict.fromkeys(HTTPS_IDS, P)


def test_https_encrypted_key_without_password_fails_at_once(lab: Lab, keys: Keys) -> None:
    """Without a password the handshake step fails before any connection, in milliseconds,
    saying the key is encrypted and where to give its password; every other check is skipped."""
    result = https_probe(lab, keys, keys.encrypted, None)
    assert statuses(result) == only_handshake_failed(HTTPS_IDS)
    expected = (f"the client key {keys.encrypted} is encrypted: give its password", GIVE_TOML)
    assert check(result, "tls.handshake") == expected
    assert check(result, "connect")[0] == "not run: tls.handshake failed"
    assert result.elapsed_ms < QUICK_MS


def test_https_wrong_password_has_its_own_verdict(lab: Lab, keys: Keys) -> None:
    """A wrong password is told from a missing one, without showing either."""
    result = https_probe(lab, keys, keys.encrypted, "not the passphrase")
    assert statuses(result) == only_handshake_failed(HTTPS_IDS)
    assert check(result, "tls.handshake") == (
        f"the client key {keys.encrypted} does not decrypt with the password given",
        "check the variable client_key_password_env names: it is not this key's passphrase",
    )
    assert "not the passphrase" not in str(result)


def test_https_mismatched_key_has_its_own_verdict(lab: Lab, keys: Keys) -> None:
    """A key of another certificate is named as such at the handshake step, not as whatever
    OpenSSL raises."""
    result = https_probe(lab, keys, keys.stranger, None)
    assert statuses(result) == only_handshake_failed(HTTPS_IDS)
    assert check(result, "tls.handshake") == (
        f"the client key {keys.stranger} does not belong to the certificate {keys.cert}",
        MISMATCH_HINT,
    )


# --- PostgreSQL: a cluster whose pg_hba.conf requires a client certificate -------------------


def pg_url(lab: Lab, keys: Keys, key: Path, extra: str = "") -> str:
    base = lab.url("pg-login-client-cert-required")
    return f"{base}&sslcert={quote(str(keys.cert))}&sslkey={quote(str(key))}{extra}"


def pg_probe(lab: Lab, *targets: str) -> list[TargetResult]:
    if lab.clusters is not None and lab.clusters.note:
        pytest.fail(f"the PostgreSQL lab clusters did not start: {lab.clusters.note}")
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file)
    return probe_targets([parse_target(t) for t in targets], policy)


def test_pg_sslpassword_is_used_by_the_handshake_and_libpq(lab: Lab, keys: Keys) -> None:
    """With sslpassword (in a URL and in a keyword string) the encrypted key serves both the
    probe's handshake and libpq's login, which this server allows only with a client
    certificate; the same target without a certificate fails its login (the twin)."""
    secret = f"&sslpassword={quote(PASSPHRASE)}"
    port = urlsplit(lab.url("pg-client-cert")).port
    keyword = (
        f"host=localhost port={port} dbname=postgres user=probe password=s3cret-pw "
        f"sslmode=verify-full sslcert={keys.cert} sslkey={keys.encrypted} "
        f"sslpassword='{PASSPHRASE}'"
    )
    bare = lab.url("pg-login-client-cert-required")
    with_url, with_keywords, without = pg_probe(
        lab, pg_url(lab, keys, keys.encrypted, secret), keyword, bare
    )
    for result in (with_url, with_keywords):
        assert statuses(result) == dict.fromkeys(PG_IDS, P)
        assert check(result, "pg.login")[0].startswith("logged in as 'probe'")
    assert statuses(without)["pg.login"] == F
    assert check(without, "pg.login") == (
        "the server requires a client certificate, and none was given",
        "give the target a client certificate and key (sslcert, sslkey)",
    )


def test_pg_encrypted_key_without_sslpassword_fails_at_once(lab: Lab, keys: Keys) -> None:
    """Without sslpassword the handshake step fails before any connection, with the hint to set
    sslpassword; a wrong sslpassword gets its own verdict; a plain key is unchanged."""
    missing, wrong, plain = pg_probe(
        lab,
        pg_url(lab, keys, keys.encrypted),
        pg_url(lab, keys, keys.encrypted, "&sslpassword=wrong"),
        pg_url(lab, keys, keys.plain),
    )
    expected = only_handshake_failed(PG_IDS) | {"client.encryption": P}
    assert statuses(missing) == expected
    assert check(missing, "tls.handshake") == (
        f"the client key {keys.encrypted} is encrypted: give its password",
        GIVE_PG,
    )
    assert missing.elapsed_ms < QUICK_MS
    assert statuses(wrong) == expected
    assert check(wrong, "tls.handshake") == (
        f"the client key {keys.encrypted} does not decrypt with the password given",
        WRONG_PG,
    )
    assert statuses(plain) == dict.fromkeys(PG_IDS, P)


@pytest.mark.parametrize(
    ("key", "extra", "expected"),
    [
        (
            "encrypted",
            "",
            ("the client key {key} is encrypted: give its password", GIVE_PG),
        ),
        (
            "encrypted",
            "&sslpassword=",
            ("the client key {key} is encrypted: give its password", GIVE_PG),
        ),
        (
            "encrypted",
            "&sslpassword=wrong",
            ("the client key {key} does not decrypt with the password given", WRONG_PG),
        ),
        (
            "stranger",
            "",
            ("the client key {key} does not belong to the certificate {cert}", MISMATCH_HINT),
        ),
        (
            "not_pem",
            "",
            ("the client key file {key} holds no PEM key", "give the key in PEM"),
        ),
        (
            "gone",
            "",
            ("the client key file {key} does not exist", "check the client key's path"),
        ),
        (
            "open",
            "",
            (
                "the client key {key} can be read by others, and libpq refuses it",
                "chmod 600 the key file (libpq wants u=rw, or u=rw,g=r when root owns it)",
            ),
        ),
    ],
)
def test_libpq_key_errors_read_as_the_handshake_says_them(
    lab: Lab, keys: Keys, key: str, extra: str, expected: tuple[str, str]
) -> None:
    """pg.login alone, through real libpq: its own words for a key it cannot use become the
    same plain verdict and hint as the handshake step's (and an encrypted key with no
    sslpassword fails instead of prompting)."""
    if key == "gone":
        path = keys.folder / "gone.key"
    elif key == "open":
        path = keys.folder / "open.key"
        shutil.copyfile(keys.plain, path)
        path.chmod(0o644)
    else:
        path = getattr(keys, key)
    target = parse_target(pg_url(lab, keys, path, extra))
    said = asyncio.run(_login_only(target, lab))
    assert said.status is Status.FAIL
    detail, hint = expected
    assert (said.detail, said.hint) == (detail.format(key=path, cert=keys.cert), hint)


async def _login_only(target: Target, lab: Lab) -> Check:
    """pg.login on its own, past the handshake step that would catch the key first."""
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file)
    settings = pgsettings.resolve(target, {}, lab.ca_file)
    return await login(ProbeState(target, policy, ("pg.login",)), settings)
