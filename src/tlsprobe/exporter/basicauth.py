"""basic_auth_users, checked as exporter-toolkit checks them: bcrypt, and as slow for a user
that does not exist as for a wrong password (no enumeration of users by timing)."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import bcrypt
from aiohttp import BasicAuth

_CACHED = 256


class Checker:
    """bcrypt costs 50-250 ms of CPU a check at the usual costs: it runs in one worker thread
    (one at a time, as exporter-toolkit's mutex does), never on the event loop that serves the
    scrapes, and each (user, hash, password) answer is remembered, keyed by a digest only, so
    a scraper pays for bcrypt once and not every 15 s."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._answers: OrderedDict[bytes, bool] = OrderedDict()

    async def allowed(self, users: Mapping[str, bytes], header: str | None) -> bool:
        """Whether the Authorization header names a user with the right password."""
        if not users:
            return True
        if header is None:
            return False
        try:
            given = BasicAuth.decode(header, encoding="utf-8")
        except ValueError:
            return False
        known = users.get(given.login)
        # An unknown user is checked against a real user's hash (same cost, same time) and
        # refused whatever the answer.
        hashed = known if known is not None else next(iter(users.values()))
        password = given.password.encode("utf-8")
        key = hashlib.sha256(b"\0".join((given.login.encode(), hashed, password))).digest()
        if (answer := self._answers.get(key)) is None:
            loop = asyncio.get_running_loop()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="tlsprobe-bcrypt")
            answer = await loop.run_in_executor(self._pool, bcrypt.checkpw, password, hashed)
            self._answers[key] = answer
            if len(self._answers) > _CACHED:
                self._answers.popitem(last=False)
        return answer and known is not None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
