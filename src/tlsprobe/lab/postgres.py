"""The PostgreSQL cases: real clusters for what a real server does (postgres_cluster.py), and
raw asyncio fakes for what no real server does (answers E or garbage, stays silent, or sends
bytes after its S: CVE-2021-23222)."""

from __future__ import annotations

import logging
import os
import struct

from tlsprobe.lab.certs import DAY, Identity, Pki
from tlsprobe.lab.https import GARBAGE
from tlsprobe.lab.postgres_cluster import (
    HBA_CERT,
    HBA_CLIENT_CERT,
    HBA_CLIENT_CERT_FULL,
    HBA_HOST,
    HBA_PASSWORD,
    HBA_TRUST,
    PASSWORD,
    SUPERUSER,
    Clusters,
    ClusterSpec,
    Unavailable,
)
from tlsprobe.lab.server import Case, Conn, within
from tlsprobe.records import record

log = logging.getLogger(__name__)

URL = "postgresql://localhost:{port}/postgres?sslmode=verify-full"
READ_TIMEOUT = 10.0
# TLS 1.0 and 1.1 need OpenSSL's security level 0 (their handshakes sign with SHA-1).
LEGACY = {"ssl_min_protocol_version": "'TLSv1'", "ssl_ciphers": "'DEFAULT:@SECLEVEL=0'"}
# What a man in the middle would inject after a genuine S: AuthenticationOk, in clear.
INJECTED = b"R\x00\x00\x00\x08\x00\x00\x00\x00"


@record
class Endpoint:
    name: str
    url: str
    description: str


def _error_response(message: str) -> bytes:
    fields = b"SFATAL\0VFATAL\0C0A000\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!I", 4 + len(fields)) + fields


async def _request(conn: Conn) -> bytes:
    """The client's 8-byte SSLRequest (or whatever 8 bytes it sends first)."""
    data = b""
    while len(data) < 8:
        chunk = await within(READ_TIMEOUT, conn.read(8 - len(data)))
        if not chunk:
            raise EOFError("the client left")
        data += chunk
    return data


async def _discard(conn: Conn) -> None:
    while await conn.read():
        pass


async def answers_e(conn: Conn) -> None:
    """Answer the SSLRequest with an ErrorResponse, as a server that does not know it would."""
    await _request(conn)
    await conn.send(_error_response("unsupported frontend protocol 1234.5679"))


async def garbage(conn: Conn) -> None:
    await _request(conn)
    await conn.send(GARBAGE)


async def silent(conn: Conn) -> None:
    """Take the SSLRequest and never answer it."""
    await _discard(conn)


async def s_then_bytes(conn: Conn) -> None:
    """S and, in the same write, plaintext a vulnerable client would read as if from inside TLS."""
    await _request(conn)
    await conn.send(b"S" + INJECTED)
    await _discard(conn)


def cases(pki: Pki) -> list[Case]:
    """The fakes, in demo order (the clusters come from `LabClusters`)."""
    return [
        Case("pg-answers-e", "answers E to the SSLRequest (not PostgreSQL)", answers_e, url=URL),
        Case("pg-garbage", "answers the SSLRequest with non-protocol bytes", garbage, url=URL),
        Case("pg-silent", "accepts the SSLRequest, never answers", silent, url=URL),
        Case(
            "pg-cve-2021-23222",
            "answers S followed by injected plaintext (CVE-2021-23222)",
            s_then_bytes,
            url=URL,
        ),
    ]


def cluster_specs(pki: Pki) -> list[tuple[ClusterSpec, str]]:
    """One real cluster per PostgreSQL case in CASES.md, with its description."""
    now = pki.now
    good = pki.issue("pg-good")
    expired = pki.issue("pg-expired", not_before=now - 30 * DAY, not_after=now - 3 * DAY)
    tls13 = {"ssl_min_protocol_version": "'TLSv1.3'"}
    return [
        (ClusterSpec("pg-good", good), "ssl on, hostssl lines only: refuses plaintext"),
        (ClusterSpec("pg-host-rules", good, HBA_HOST), "ssl on, but host lines accept plaintext"),
        (ClusterSpec("pg-ssl-off", None, HBA_HOST), "ssl = off: answers N to the SSLRequest"),
        (ClusterSpec("pg-tls13-only", good, settings=tls13), "ssl_min_protocol_version TLSv1.3"),
        (ClusterSpec("pg-expired", expired), "leaf expired 3 days ago"),
        (
            ClusterSpec("pg-wrong-host", pki.issue("pg-wrong-host", "wrong.example")),
            "leaf is for wrong.example only",
        ),
        (ClusterSpec("pg-self-signed", pki.self_signed("pg-self-signed")), "self-signed leaf"),
        (
            ClusterSpec("pg-client-cert", good, HBA_CLIENT_CERT, client_ca=pki.ca_file),
            "hostssl with clientcert=verify-ca: a login needs a client certificate",
        ),
        *client_model_specs(pki, good),
        (ClusterSpec("legacy-pg", good, settings=LEGACY), "ssl_min_protocol_version TLSv1"),
    ]


# The private root of pg-private-root: named by its targets' sslrootcert, never in ca_file.
PRIVATE_ROOT = "pg-private-root-root.pem"


def client_model_specs(pki: Pki, good: Identity) -> list[tuple[ClusterSpec, str]]:
    """Clusters for the client model (issue 12): trust and host names as libpq has them,
    client certificates and channel binding."""
    return [
        (ClusterSpec("pg-cn-only", pki.cn_only("pg-cn-only")), "CN=localhost, no subjectAltName"),
        (
            ClusterSpec("pg-private-root", pki.untrusted("pg-private-root")),
            "chain under a private root that only the target's sslrootcert names",
        ),
        (ClusterSpec("pg-trust-auth", good, HBA_TRUST), "hostssl trust: no password, no SCRAM"),
        (
            ClusterSpec("pg-password-auth", good, HBA_PASSWORD),
            "hostssl password: a cleartext password, no SCRAM",
        ),
        (
            ClusterSpec("pg-client-cert-full", good, HBA_CLIENT_CERT_FULL, client_ca=pki.ca_file),
            "hostssl with clientcert=verify-full: a certificate whose CN is the user",
        ),
        (
            ClusterSpec("pg-cert-auth", good, HBA_CERT, client_ca=pki.ca_file),
            "hostssl cert: the client certificate is the login, its CN the user",
        ),
    ]


# Further targets on the clusters above: (name, cluster, URL, description).
_LOGINS = (
    (
        "pg-login",
        "pg-good",
        f"postgresql://{SUPERUSER}:{PASSWORD}@localhost:{{port}}/postgres?sslmode=verify-full",
        f"user {SUPERUSER}, right password: logs in over TLS",
    ),
    (
        "pg-login-wrong-password",
        "pg-good",
        f"postgresql://{SUPERUSER}:wrong-pw@localhost:{{port}}/postgres?sslmode=verify-full",
        f"user {SUPERUSER}, wrong password, good TLS",
    ),
    (
        "pg-login-ssl-off",
        "pg-ssl-off",
        f"postgresql://{SUPERUSER}:{PASSWORD}@localhost:{{port}}/postgres",
        "sslmode unset (prefer) against ssl = off: logs in without TLS",
    ),
    (
        "pg-login-client-cert-required",
        "pg-client-cert",
        f"postgresql://{SUPERUSER}:{PASSWORD}@localhost:{{port}}/postgres?sslmode=verify-full",
        f"user {SUPERUSER}, right password, no client certificate: refused at login",
    ),
    (
        "pg-direct",
        "pg-good",
        "postgresql://localhost:{port}/postgres?sslmode=verify-full&sslnegotiation=direct",
        "sslnegotiation=direct against PostgreSQL 15",
    ),
    *(
        (
            name,
            cluster,
            f"postgresql://{SUPERUSER}:{PASSWORD}@localhost:{{port}}/postgres?{query}",
            text,
        )
        for name, cluster, query, text in (
            (
                "pg-login-cn-only",
                "pg-cn-only",
                "sslmode=verify-full",
                "verify-full against a CN-only certificate: libpq falls back to the CN",
            ),
            (
                "pg-login-private-root",
                "pg-private-root",
                "sslmode=verify-full&sslrootcert={workdir}/" + PRIVATE_ROOT,
                "verify-full, sslrootcert names the private root: libpq trusts it",
            ),
            (
                "pg-login-channel-binding-trust",
                "pg-trust-auth",
                "sslmode=verify-full&channel_binding=require",
                "channel_binding=require against trust authentication",
            ),
            (
                "pg-login-channel-binding-password",
                "pg-password-auth",
                "sslmode=verify-full&channel_binding=require",
                "channel_binding=require against password (cleartext) authentication",
            ),
            (
                "pg-login-channel-binding-no-tls",
                "pg-host-rules",
                "sslmode=disable&channel_binding=require",
                "channel_binding=require without TLS",
            ),
            (
                "pg-login-channel-binding",
                "pg-good",
                "sslmode=verify-full&channel_binding=require",
                "channel_binding=require with SCRAM over TLS: logs in",
            ),
            (
                "pg-login-client-cert-full",
                "pg-client-cert-full",
                "sslmode=verify-full",
                "clientcert=verify-full, no client certificate: refused at login",
            ),
        )
    ),
)


class LabClusters:
    """The lab's clusters: started with the lab, stopped with it. Without the server binaries
    they are left out with one message, except in CI (CI=true), where that is an error."""

    def __init__(self, pki: Pki) -> None:
        specs = cluster_specs(pki)
        self._workdir = str(pki.workdir)
        self._descriptions = {spec.name: description for spec, description in specs}
        self._clusters = Clusters([spec for spec, _ in specs])
        self.note = ""

    @property
    def startup_s(self) -> float:
        return self._clusters.startup_s

    def start(self) -> list[Endpoint]:
        try:
            running = self._clusters.start()
        except Unavailable as exc:
            if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
                raise RuntimeError(f"CI=true and the PostgreSQL lab cannot run: {exc}") from exc
            self.note = f"PostgreSQL clusters left out of the lab: {exc}"
            log.warning("%s", self.note)
            return []
        ports = {cluster.name: cluster.port for cluster in running}
        endpoints = [
            Endpoint(name, URL.format(port=port), self._descriptions[name])
            for name, port in ports.items()
        ]
        endpoints += [
            Endpoint(name, url.format(port=ports[cluster], workdir=self._workdir), description)
            for name, cluster, url, description in _LOGINS
        ]
        return endpoints

    def stop(self) -> None:
        self._clusters.stop()
