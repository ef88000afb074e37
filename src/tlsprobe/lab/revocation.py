"""cert.revocation's lab: an OCSP responder and CRL server of the lab's intermediate, and HTTPS
servers that staple (pyOpenSSL's OCSP server callback: Python's ssl cannot staple).

The responder's port must be in the certificates before any server listens, so its socket is
bound here, at once, and handed to the case (Case.sock). It speaks just enough HTTP/1.1 for an
OCSP POST and a CRL GET: the lab's own connection handling (one loop, every connection tracked
and closed at stop) rather than a second server framework inside the lab.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections import Counter
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from OpenSSL import SSL

from tlsprobe.lab import revocation_signers as signers
from tlsprobe.lab import s_server
from tlsprobe.lab.certs import (
    DAY,
    LOCAL_NAMES,
    Identity,
    Pki,
    general_names,
    issued,
    key_pem,
    lab_name,
)
from tlsprobe.lab.revocation_signers import Signer
from tlsprobe.lab.server import HOST, Case, Conn, Handler
from tlsprobe.records import record

_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM
_REPLY = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nStrict-Transport-Security: max-age=31536000\r\n"
    b"Connection: close\r\n\r\nok\n"
)
_STATUS_REQUEST = x509.TLSFeatureType.status_request
REVOKED_AT = dt.timedelta(days=2)  # before the lab starts: the date verdicts name


def _bound() -> socket.socket:
    sock = socket.create_server((HOST, 0))
    sock.setblocking(False)
    return sock


def _closed_port() -> int:
    """A loopback port nothing listens on, ever: port 0 (binding it means "any port", so no
    server can hold it; a connection to it is refused). A port bound and then closed was
    refused only until another server of the same machine happened to get it."""
    return 0


@record
class Leaf:
    """A lab leaf whose AIA and CDP name the lab responder, and its files."""

    cert: x509.Certificate
    identity: Identity


def responder_leaf(
    pki: Pki, name: str, *, ocsp_port: int | None, crl_port: int | None, must_staple: bool = False
) -> Leaf:
    """A leaf under the lab's intermediate whose AIA and CDP point at the given ports."""
    signer = pki.signer
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        issued(lab_name(name), key.public_key(), signer.cert)
        .not_valid_before(pki.now - 30 * DAY)
        .not_valid_after(pki.now + 90 * DAY)
        .add_extension(x509.SubjectAlternativeName(general_names(LOCAL_NAMES)), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    )
    if ocsp_port is not None:
        url = x509.UniformResourceIdentifier(f"http://{HOST}:{ocsp_port}/ocsp")
        access = x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP, url)
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    if crl_port is not None:
        url = x509.UniformResourceIdentifier(f"http://{HOST}:{crl_port}/lab.crl")
        point = x509.DistributionPoint([url], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if must_staple:
        builder = builder.add_extension(x509.TLSFeature([_STATUS_REQUEST]), critical=False)
    cert = builder.sign(signer.key, hashes.SHA256())
    chain = cert.public_bytes(_PEM) + signer.cert.public_bytes(_PEM)
    identity = pki.identity(name, key_pem(key), [chain])
    return Leaf(cert, identity)


class Responder:
    """The intermediate's OCSP responder and CRL server: every serial is good but `revoked`."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.sock = _bound()
        self.port: int = self.sock.getsockname()[1]
        self.known: dict[int, x509.Certificate] = {}
        self.revoked: set[int] = set()
        self.unknown: set[int] = set()  # serials it answers "unknown" for
        self.signers: dict[int, Signer] = {}  # serials whose responses a delegate signs
        # Its log, told at GET /asked: OCSP requests by serial (hex), and CRL downloads ("crl").
        self.asked: Counter[str] = Counter()

    def response(
        self,
        cert: x509.Certificate,
        *,
        revoked: bool = False,
        unknown: bool = False,
        age: dt.timedelta = dt.timedelta(0),
        signer: Signer | None = None,
    ) -> bytes:
        """A DER OCSP response on `cert`, made `age` ago, signed by the issuer (or `signer`,
        its certificate in the response's certs if it is `carried`)."""
        issuer = self.pki.signer
        this = self.pki.now - age - dt.timedelta(hours=1)
        status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
        status = ocsp.OCSPCertStatus.UNKNOWN if unknown else status
        when = self.pki.now - REVOKED_AT if revoked else None
        reason = x509.ReasonFlags.key_compromise if revoked else None
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert, issuer.cert, hashes.SHA1(), status, this, this + DAY, when, reason
        )
        signer = signer or Signer(issuer.cert, issuer.key, carried=False)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
        if signer.carried:
            builder = builder.certificates([signer.cert])
        return builder.sign(signer.key, hashes.SHA256()).public_bytes(_DER)

    def crl(self) -> bytes:
        issuer = self.pki.signer
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(self.pki.now - dt.timedelta(hours=1))
            .next_update(self.pki.now + DAY)
        )
        for serial in sorted(self.revoked):
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(self.pki.now - REVOKED_AT)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(issuer.key, hashes.SHA256()).public_bytes(_DER)

    def answer(self, method: bytes, body: bytes, path: bytes = b"/") -> bytes:
        if method == b"GET" and path == b"/asked":
            return "".join(f"{key} {n}\n" for key, n in sorted(self.asked.items())).encode()
        if method == b"GET":
            self.asked["crl"] += 1
            return self.crl()
        request = ocsp.load_der_ocsp_request(body)
        self.asked[format(request.serial_number, "x")] += 1
        cert = self.known.get(request.serial_number)
        if cert is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(_DER)
        serial = cert.serial_number
        return self.response(
            cert,
            revoked=serial in self.revoked,
            unknown=serial in self.unknown,
            signer=self.signers.get(serial),
        )

    async def serve(self, conn: Conn) -> None:
        head = await conn.readuntil(b"\r\n\r\n")
        method, _, rest = head.partition(b" ")
        path = rest.split(b" ", 1)[0]
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = b""
        while len(body) < length:
            chunk = await conn.read(length - len(body))
            if not chunk:
                return
            body += chunk
        data = self.answer(method, body, path)
        kind = b"application/pkix-crl" if method == b"GET" else b"application/ocsp-response"
        await conn.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: "
            + kind
            + b"\r\nContent-Length: "
            + str(len(data)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + data
        )


async def _stall(conn: Conn) -> None:
    """A responder that takes the request and never answers."""
    await conn.read()
    await asyncio.Event().wait()


def stapling_context(identity: Identity, staple: bytes | None) -> SSL.Context:
    """A pyOpenSSL server context (TLS 1.2-1.3) that staples `staple` (None: nothing)."""
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.use_certificate_chain_file(str(identity.chain))
    ctx.use_privatekey_file(str(identity.key))
    if staple is not None:
        ctx.set_ocsp_server_callback(lambda _conn, _data: staple)
    return ctx


def stapling(identity: Identity, staple: bytes | None) -> Handler:
    """An HTTPS server (TLS 1.2-1.3) that staples `staple` (None: nothing), answering 200."""

    def context() -> SSL.Context:
        return stapling_context(identity, staple)

    async def handler(conn: Conn) -> None:
        tls = SSL.Connection(context(), None)
        tls.set_accept_state()
        try:
            await _pump(conn, tls, tls.do_handshake)
            await _pump(conn, tls, lambda: tls.recv(65536))
            tls.sendall(_REPLY)
            await flush(conn, tls)
        except SSL.Error:
            return  # a side hello that stops once it has the staple, a refused legacy hello

    return handler


async def _pump(conn: Conn, tls: SSL.Connection, step: Callable[[], object]) -> None:
    while True:
        try:
            step()
        except SSL.WantReadError:
            await flush(conn, tls)
            data = await conn.read()
            if not data:
                raise SSL.Error("the client went away") from None
            tls.bio_write(data)
        else:
            await flush(conn, tls)
            return


async def flush(conn: Conn, tls: SSL.Connection) -> None:
    """Send what the pyOpenSSL session has written to its memory BIO."""
    out = b""
    while True:
        try:
            chunk = tls.bio_read(65536)
        except SSL.WantReadError:
            break
        if not chunk:
            break
        out += chunk
    if out:
        await conn.send(out)


def cases(pki: Pki) -> list[Case]:
    """Every revocation case, in demo order."""
    responder = Responder(pki)
    stalled = _bound()
    ocsp_port, crl_port = responder.port, responder.port

    def leaf(name: str, **kw: int | bool | None) -> Leaf:
        made = responder_leaf(
            pki,
            name,
            ocsp_port=kw.pop("ocsp", ocsp_port),
            crl_port=kw.pop("crl", None),
            must_staple=bool(kw.pop("must", False)),
        )
        responder.known[made.cert.serial_number] = made.cert
        return made

    good = leaf("revocation-good-staple")
    by_ocsp = leaf("revocation-ocsp-revoked")
    by_crl = leaf("revocation-crl-revoked", ocsp=None, crl=crl_port)
    responder.revoked |= {by_ocsp.cert.serial_number, by_crl.cert.serial_number}
    stale = leaf("revocation-stale-staple")
    badly = leaf("revocation-badly-signed-staple")
    must = leaf("revocation-must-staple", must=True)
    must_none = leaf("revocation-must-staple-missing", must=True)
    unreachable = leaf("revocation-responder-unreachable", ocsp=_closed_port())
    stalls = leaf("revocation-responder-stalls", ocsp=stalled.getsockname()[1])
    impostor = signers.outsider("not the lab's OCSP responder")

    def case(made: Leaf, description: str, staple: bytes | None) -> Case:
        name = made.identity.chain.stem
        return Case(name, description, stapling(made.identity, staple))

    return [
        case(good, "staples a fresh good OCSP response", responder.response(good.cert)),
        case(
            by_ocsp,
            "revoked: the responder and the staple say so",
            responder.response(by_ocsp.cert, revoked=True),
        ),
        case(by_crl, "revoked on the CRL its CDP names (no OCSP), no staple", None),
        case(
            stale,
            "staples a response whose next update was 3 days ago",
            responder.response(stale.cert, age=4 * DAY),
        ),
        case(
            badly,
            "staples a response signed by a key the issuer never delegated to",
            responder.response(badly.cert, signer=impostor),
        ),
        _for_another(pki, responder, leaf("revocation-staple-for-another")),
        *_delegated(pki, responder, leaf),
        _unknown(responder, leaf("revocation-unknown")),
        case(must, "must-staple, with a fresh staple", responder.response(must.cert)),
        case(must_none, "must-staple, and staples nothing", None),
        case(unreachable, "no staple; its OCSP responder is port 0, where nothing listens", None),
        case(stalls, "no staple; its OCSP responder never answers", None),
        Case(
            "revocation-responder",
            "the lab's OCSP responder and CRL server",
            responder.serve,
            url="http://127.0.0.1:{port}/lab.crl",
            sock=responder.sock,
        ),
        Case(
            "revocation-responder-stalling",
            "an OCSP responder that never answers",
            _stall,
            url="http://127.0.0.1:{port}/ocsp",
            sock=stalled,
        ),
    ]


def _for_another(pki: Pki, responder: Responder, mine: Leaf) -> Case:
    """openssl s_server stapling the responder's good response for another leaf (see s_server
    for why not pyOpenSSL)."""
    theirs = responder_leaf(pki, "revocation-theirs", ocsp_port=responder.port, crl_port=None)
    staple = pki.workdir / "revocation-theirs.ocsp.der"
    staple.write_bytes(responder.response(theirs.cert))
    intermediate = pki.workdir / "revocation-intermediate.pem"
    intermediate.write_bytes(pki.signer.cert.public_bytes(_PEM))
    args = ["-cert", str(mine.identity.chain), "-key", str(mine.identity.key)]
    args += ["-cert_chain", str(intermediate), "-status_file", str(staple), "-www"]
    description = "openssl s_server stapling a good response for another certificate"
    return Case(mine.identity.chain.stem, description, s_server.handler(args))


def _delegated(pki: Pki, responder: Responder, leaf: Callable[[str], Leaf]) -> list[Case]:
    """A delegated responder (staple and fetched) and its two bad twins."""
    made = []
    for name, signer, description in (
        (
            "revocation-delegated-responder",
            signers.delegate(pki, "lab OCSP delegate"),
            "staples (and the responder answers) a good response its delegated responder signed",
        ),
        (
            "revocation-delegate-without-eku",
            signers.delegate(pki, "lab OCSP delegate without the EKU", eku=False),
            "staples (and the responder answers) a response signed by a certificate of the "
            "issuer without id-kp-OCSPSigning",
        ),
        (
            "revocation-delegate-of-another-ca",
            signers.delegate(pki, "another CA's OCSP delegate", by_issuer=False),
            "staples (and the responder answers) a response signed by an OCSP signer that "
            "another CA issued",
        ),
    ):
        cert = leaf(name)
        responder.signers[cert.cert.serial_number] = signer
        staple = responder.response(cert.cert, signer=signer)
        made.append(Case(name, description, stapling(cert.identity, staple)))
    return made


def _unknown(responder: Responder, unknown: Leaf) -> Case:
    """A leaf its own CA's responder answers "unknown" for, stapled and fetched alike."""
    responder.unknown.add(unknown.cert.serial_number)
    staple = responder.response(unknown.cert, unknown=True)
    text = 'staples (and the responder answers) "unknown"'
    return Case("revocation-unknown", text, stapling(unknown.identity, staple))
