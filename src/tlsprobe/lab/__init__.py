"""Local servers with known defects, for the tests and `tlsprobe demo`.

Every server listens on an ephemeral 127.0.0.1 port and presents certificates made at start-up
(trustme, cryptography, and `openssl` for SHA-1). A case is added by adding a `Case` to a factory
in `_FACTORIES` (HTTPS, SMTP, fake PostgreSQL servers); the real PostgreSQL clusters are started
by `postgres_cluster`.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import tempfile
import threading

from tlsprobe.lab import (
    chains,
    ciphers,
    clientcert,
    https,
    legacy,
    postgres,
    revocation,
    smtp,
    staple_starttls,
)
from tlsprobe.lab.certs import Pki
from tlsprobe.lab.server import Case, Factory, Servers
from tlsprobe.records import record

__all__ = ["Lab", "LabEndpoint"]

_FACTORIES: tuple[Factory, ...] = (
    https.cases,
    chains.cases,
    smtp.cases,
    postgres.cases,
    ciphers.cases,
    clientcert.cases,
    legacy.cases,
    revocation.cases,
    staple_starttls.cases,
)
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


@record
class LabEndpoint:
    """One running lab server: where to reach it and what is wrong with it."""

    name: str
    url: str
    description: str


class Lab:
    """Runs every lab server in one background thread with its own asyncio event loop."""

    def __init__(
        self, workdir: pathlib.Path | None = None, *, postgres_clusters: bool = True
    ) -> None:
        self._workdir = workdir
        # Real PostgreSQL servers are processes, not cases on the loop: started and stopped here.
        self._with_clusters = postgres_clusters
        self.clusters: postgres.LabClusters | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_file: pathlib.Path | None = None
        self._endpoints: list[LabEndpoint] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set only through the loop (call_soon_threadsafe); an Event binds to a loop on first use.
        self._stop_event = asyncio.Event()
        self._stopped = False

    def start(self) -> Lab:
        """Make the certificates, start every server, and return once all of them listen."""
        if self._thread is not None or self._stopped:
            raise RuntimeError("a Lab can be started only once")
        try:
            workdir = self._make_workdir()
            pki = Pki(workdir)
            cases = [case for factory in _FACTORIES for case in factory(pki)]
            self._ca_file = pki.ca_file
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._run, args=(self._loop, cases), name="tlsprobe-lab", daemon=True
            )
            self._thread.start()
            if self._with_clusters:
                self.clusters = postgres.LabClusters(pki)
            clustered = self.clusters.start() if self.clusters is not None else []
            if not self._ready.wait(_START_TIMEOUT):
                raise RuntimeError(f"lab servers did not start within {_START_TIMEOUT:g} s")
            if self._error is not None:
                raise RuntimeError(f"lab servers failed to start: {self._error}") from self._error
            self._endpoints += [LabEndpoint(e.name, e.url, e.description) for e in clustered]
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close every server and connection, end the thread, and remove a temporary workdir."""
        if self._stopped:
            return
        self._stopped = True
        if self.clusters is not None:
            self.clusters.stop()
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already finished on its own
                self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
        elif self._loop is not None:
            self._loop.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ca_file(self) -> pathlib.Path:
        """A PEM file of the roots the lab's clients trust: the lab's own, and the expired private
        root of `https-expired-root`."""
        if self._ca_file is None:
            raise RuntimeError("the lab is not started")
        return self._ca_file

    @property
    def endpoints(self) -> list[LabEndpoint]:
        """Every endpoint, in demo order."""
        if not self._endpoints:
            raise RuntimeError("the lab is not started")
        return list(self._endpoints)

    def url(self, name: str) -> str:
        """The URL of the endpoint called `name`; ValueError names an unknown one."""
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint.url
        known = ", ".join(endpoint.name for endpoint in self._endpoints)
        raise ValueError(f"no lab endpoint named {name!r} (known: {known})")

    def _make_workdir(self) -> pathlib.Path:
        if self._workdir is not None:
            self._workdir.mkdir(parents=True, exist_ok=True)
            return self._workdir
        self._tempdir = tempfile.TemporaryDirectory(prefix="tlsprobe-lab-")
        return pathlib.Path(self._tempdir.name)

    def _run(self, loop: asyncio.AbstractEventLoop, cases: list[Case]) -> None:
        try:
            loop.run_until_complete(self._serve(cases))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, cases: list[Case]) -> None:
        servers = Servers()
        try:
            try:
                ports = [await servers.listen(case) for case in cases]
                self._endpoints = [
                    LabEndpoint(case.name, case.url.format(port=port), case.description)
                    for case, port in zip(cases, ports, strict=True)
                ]
            except Exception as exc:
                self._error = exc  # start() re-raises it in the caller's thread
                return
            finally:
                self._ready.set()
            await self._stop_event.wait()
        finally:
            await servers.close()
