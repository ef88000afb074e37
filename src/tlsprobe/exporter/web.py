"""The exporter's HTTP face on aiohttp's low-level server: one coroutine per request on the
exporter's own event loop (the one the probes and rounds run on), no request threads. Every
answer is metrics or one line of text, and carries the web config's headers and a Server header
without a version."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from tlsprobe.escaping import visible
from tlsprobe.exporter.basicauth import Checker
from tlsprobe.exporter.metrics import SCRAPE_TIMEOUT_HEADER, ProbeCollector, scrape_deadline
from tlsprobe.exporter.webconfig import WebConfig
from tlsprobe.failures import UsageError
from tlsprobe.model import Policy, TargetResult
from tlsprobe.secrets import scrub_structure
from tlsprobe.targets import Target

SERVER = "tlsprobe"  # no version: it tells an attacker which bugs to try
KEEPALIVE_S = 75.0  # longer than Prometheus' default 60 s interval: one connection per scraper
LINGER_S = 5.0  # a request body nobody reads is drained this long at most
MAX_LINE = 8190  # request line and each header, as aiohttp's default
# aiohttp logs its own errors with tracebacks (and the request in them): this face answers every
# error itself with one line, so aiohttp's logger says nothing.
_QUIET = logging.getLogger("tlsprobe.exporter.aiohttp")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_PHRASES = {400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed"}


class Backend(Protocol):
    """What the HTTP face needs of the exporter behind it."""

    policy: Policy
    metrics: CollectorRegistry

    def resolve(self, text: str) -> Target:
        """The target a /probe request names: UsageError when malformed, Refused when outside."""

    def policy_for(self, module: str) -> Policy:
        """The policy a /probe?module= names (the exporter's own when unknown)."""

    async def probe(self, target: Target, deadline: float, module: str = "") -> TargetResult:
        """Probe one target on the exporter's loop, with the options of `module`."""


class Refused(Exception):
    """A /probe target outside the configuration (HTTP 403)."""


ConfigNow = Callable[[], WebConfig]


class Face:
    """Routes, basic auth and headers; `handle` is aiohttp's low-level request handler."""

    def __init__(self, backend: Backend, config: ConfigNow) -> None:
        self.backend = backend
        self.config = config
        self.auth = Checker()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        config = self.config()
        try:
            response = await self._authorized(request, config)
        except Exception as exc:
            response = internal_error(exc)
        return dressed(response, config)

    async def _authorized(self, request: web.BaseRequest, config: WebConfig) -> web.Response:
        if not await self.auth.allowed(config.users, request.headers.get("Authorization")):
            answer = text(401, "401 Unauthorized\n")
            answer.headers["WWW-Authenticate"] = 'Basic realm="tlsprobe"'
            return answer
        if request.method not in ("GET", "HEAD"):
            answer = text(405, "405 Method Not Allowed: GET or HEAD only\n")
            answer.headers["Allow"] = "GET, HEAD"
            return answer
        return await self._route(request)

    async def _route(self, request: web.BaseRequest) -> web.Response:
        path = request.rel_url.path
        if path == "/probe":
            return await self._probe(request)
        if path == "/metrics":
            return metrics(self.backend.metrics, request)
        if path == "/":
            return text(200, "tlsprobe exporter: /probe?target=URL and /metrics\n")
        return text(404, "not found: try /probe?target=URL or /metrics\n")

    async def _probe(self, request: web.BaseRequest) -> web.Response:
        try:
            # The raw query, decoded here: strict UTF-8, so bytes that are not text are a 400
            # rather than a target with U+FFFD in it.
            query = parse_qs(request.rel_url.raw_query_string, keep_blank_values=True,
                             encoding="utf-8", errors="strict")  # fmt: skip
        except UnicodeDecodeError:
            return text(400, "bad target: the query is not UTF-8\n")
        given = query.get("target", [])
        if len(given) != 1 or not given[0].strip():
            return text(400, "give exactly one target: /probe?target=URL\n")
        try:
            target = self.backend.resolve(given[0])
        except UsageError as exc:
            return text(400, f"bad target: {one_line(str(exc))}\n")
        except Refused as exc:
            return text(403, f"{exc}\n")
        module = query.get("module", [""])[-1]
        header = request.headers.get(SCRAPE_TIMEOUT_HEADER)
        deadline = scrape_deadline(header, self.backend.policy_for(module).timeout)
        try:
            result = await self.backend.probe(target, deadline, module)
        except (TimeoutError, RuntimeError):
            return text(503, "the probe did not finish (the exporter is stopping or overloaded)\n")
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ProbeCollector(result))
        return metrics(registry, request)


def metrics(registry: Collector, request: web.BaseRequest) -> web.Response:
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    answer = web.Response(status=200, body=encoder(registry))
    answer.headers["Content-Type"] = content_type
    return answer


def text(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body, content_type="text/plain", charset="utf-8")


def internal_error(exc: BaseException) -> web.Response:
    """A 500 of one line naming the error's type only: its message may quote the request, and
    the request may hold a password. stderr gets the same line."""
    print(f"tlsprobe serve: error answering a request: {type(exc).__name__}", file=sys.stderr)
    answer = text(500, f"internal error ({type(exc).__name__}); see the exporter's log\n")
    answer.force_close()
    return answer


def dressed(answer: web.StreamResponse, config: WebConfig | None) -> web.StreamResponse:
    answer.headers["Server"] = SERVER
    for name, value in config.headers if config is not None else ():
        answer.headers[name] = value
    return answer


def one_line(message: str) -> str:
    """A message for an error page: one line, any password in it as ***, nothing raw. The
    message names the request's target, whose secrets are unknown when it cannot be parsed."""
    return visible(scrub_structure(" ".join(message.split())))


class _Handler(RequestHandler):
    """aiohttp's connection handler, with its own error page replaced: aiohttp's would quote
    the request line (and a password in it) for a request it cannot parse, and name Python's
    version in the Server header."""

    config: ConfigNow | None = None

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        del message
        if status >= 500:
            answer = internal_error(exc or RuntimeError())
        else:
            answer = text(status, f"{status} {_PHRASES.get(status, 'Error')}\n")
            answer.force_close()
        return dressed(answer, self.config() if self.config else None)


class Server(web.Server):
    """aiohttp's low-level server making `_Handler`s: no access log (request lines carry target
    URLs, and a URL can carry a password), a keep-alive timeout, and a client that goes away
    cancels its probe."""

    def __init__(self, face: Face) -> None:
        handle: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]] = face.handle
        super().__init__(
            handle,
            handler_cancellation=True,
            access_log=None,
            keepalive_timeout=KEEPALIVE_S,
            lingering_time=LINGER_S,
            max_line_size=MAX_LINE,
            max_field_size=MAX_LINE,
            logger=_QUIET,
        )
        self.face = face

    def __call__(self) -> RequestHandler:
        handler = _Handler(self, loop=self._loop, **self._kwargs)
        handler.config = self.face.config
        return handler
