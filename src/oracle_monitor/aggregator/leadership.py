"""`Leadership`: one process at a time runs the leader's duties, by a PostgreSQL advisory lock.

In the scale-out topology several aggregators share one PostgreSQL; exactly one of them takes
the system snapshots, applies retention and runs the alert engine (`leader_duties`). The
leader is whoever holds a *session* advisory lock (``pg_try_advisory_lock``) on a dedicated
connection of its own. Rules:

* The key is derived from a name, the store's schema and tenant (`lock_key`), so two
  deployments in one database never contend (advisory locks are per database already).
* Followers try again every ``retry_s``. A graceful stop closes the connection, which frees
  the lock at once; a killed process's connection is closed by its kernel, and the server
  frees the lock when it reads the end of the stream: a follower takes over within one
  ``retry_s``.
* The leader checks its connection every ``check_s`` (``SELECT 1``, given ``keepalive_s`` to
  answer). A failed or unanswered check is leadership lost: the duties are stopped at once and
  the connection is dropped; it then contends again like any follower.
* TCP keepalives are set on both ends of the lock connection (libpq ``keepalives_*`` and the
  server's ``tcp_keepalives_*``/``tcp_user_timeout``), so a peer that vanished without closing
  (a dead node, a partition) is noticed: the server frees the lock after about
  ``2 * keepalive_s``, and by then the old leader, whose checks fail first, has stopped.

There is no fencing token: between the server freeing the lock and the old leader's next
check (at most ``check_s``), both may write. Snapshots are keyed by their timestamp and
idempotent, retention and alert writes are idempotent, so the overlap does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from oracle_monitor.store.postgres import StoreURL
from oracle_monitor.timestamps import rfc3339

logger = logging.getLogger(__name__)

Duties = Callable[[], AbstractAsyncContextManager[None]]
DEFAULT_NAME = "snapshots"
_HOLDER_QUERY = """
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = %s AND l.objid::bigint = %s
"""


def lock_key(name: str, schema: str | None, tenant: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of ``name`` in ``schema`` for ``tenant``.

    The first 8 bytes of a SHA-256 of the three, so it is stable across processes, versions
    and machines; a schema of ``None`` (the store's default) counts as ``public``.
    """
    text = "\x1f".join(("oracle-monitor", name, schema or "public", tenant))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def lock_ids(key: int) -> tuple[int, int]:
    """How ``pg_locks`` shows a bigint advisory key: (``classid``, ``objid``), high and low
    32 bits, unsigned."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def default_holder() -> str:
    """This process's name in ``pg_stat_activity``: host and pid."""
    return f"{socket.gethostname()[:40]}/{os.getpid()}"


@dataclass(frozen=True, slots=True)
class LeadershipConfig:
    """Who contends, for what, and how often (see the module docstring)."""

    store_url: str
    name: str = DEFAULT_NAME
    retry_s: float = 2.0
    check_s: float = 1.0
    keepalive_s: float = 5.0
    holder: str = field(default_factory=default_holder)

    def __post_init__(self) -> None:
        for what in ("retry_s", "check_s", "keepalive_s"):
            if getattr(self, what) <= 0:
                raise ValueError(f"{what} must be positive")


class Leadership:
    """Contends for the lock and runs the duties while it holds it; see the module docstring.

    ``stats()`` is for ``/health``: this process's ``role`` (``leader`` or ``follower``), its
    ``holder`` id, the ``leader`` it last saw (``application_name`` of the lock's session),
    how many ``terms`` it led, since when, ``lost`` (terms ended by a failed check) and the
    last error.
    """

    def __init__(self, config: LeadershipConfig) -> None:
        self.config = config
        url = StoreURL.parse(config.store_url)
        self._url = url
        self.key = lock_key(config.name, url.schema, url.tenant)
        self.holder = config.holder
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._leader = False
        self._leader_since_ns: int | None = None
        self._seen_leader: str | None = None
        self.terms = 0
        self.lost = 0
        self.last_error = ""

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the lock (and runs the duties) now."""
        return self._leader

    @property
    def application_name(self) -> str:
        """This process's lock session in ``pg_stat_activity`` (at most 63 bytes)."""
        return f"oracle-monitor leader {self.holder}"[:63]

    def stats(self) -> dict[str, Any]:
        """Counters for ``/health`` (see the class docstring)."""
        since = self._leader_since_ns
        return {
            "role": "leader" if self._leader else "follower",
            "holder": self.holder,
            "leader": self.holder if self._leader else self._seen_leader,
            "lock_key": self.key,
            "terms": self.terms,
            "leader_since": rfc3339(since) if self._leader and since is not None else None,
            "lost": self.lost,
            "last_error": self.last_error,
        }

    async def run(self, duties: Duties, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: contend every ``retry_s``; while leader, stay inside
        ``duties()`` and leave it on losing the lock or on ``stop``. Never raises but on
        cancel; the lock is given up (its connection closed) on return."""
        try:
            while not stop.is_set():
                if await self._try_acquire():
                    await self._lead(duties, stop)
                await _wait(stop, self.config.retry_s)  # after a lost term too: others first
        finally:
            self._leader = False
            await self._drop_connection()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        idle = max(1, round(self.config.keepalive_s))
        interval = max(1, idle // 3)
        server = (
            f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval}"
            f" -c tcp_keepalives_count=3 -c tcp_user_timeout={idle * 2000}"
        )
        options = f"{self._url.connect_kwargs()['options']} {server}"
        return await psycopg.AsyncConnection.connect(
            self._url.conninfo,
            autocommit=True,
            options=options,
            application_name=self.application_name,
            connect_timeout=max(2, idle),
            keepalives=1,
            keepalives_idle=idle,
            keepalives_interval=interval,
            keepalives_count=3,
            tcp_user_timeout=idle * 2000,  # ms: unacknowledged writes give up after this
        )

    async def _try_acquire(self) -> bool:
        """One attempt; True when this process now holds the lock."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await asyncio.wait_for(self._connect(), self.config.keepalive_s * 2)
            row = await self._query("SELECT pg_try_advisory_lock(%s)", (self.key,))
            if row is not None and row[0]:
                return True
            found = await self._query(_HOLDER_QUERY, lock_ids(self.key))
            self._seen_leader = _holder_of(str(found[0])) if found and found[0] else None
            return False
        except (psycopg.Error, OSError, TimeoutError) as error:
            self._note_error(f"contending for leadership failed: {str(error) or 'no answer'}")
            await self._drop_connection()
            return False

    async def _query(self, sql: str, params: tuple[int, ...] = ()) -> tuple[Any, ...] | None:
        """One row of ``sql`` on the lock connection, answered within ``keepalive_s``, else
        TimeoutError. An unanswered query is not cancelled (a cancel request to a silent
        server would wait too): it fails on its own once the connection is closed."""
        conn = self._conn
        if conn is None or conn.closed:
            raise psycopg.OperationalError("the lock connection is closed")

        async def run() -> tuple[Any, ...] | None:
            cursor = await conn.execute(sql, params)
            row: tuple[Any, ...] | None = await cursor.fetchone()
            return row

        task = asyncio.ensure_future(run())
        task.add_done_callback(_retrieve)
        done, _ = await asyncio.wait({task}, timeout=self.config.keepalive_s)
        if not done:
            raise TimeoutError
        return task.result()

    async def _lead(self, duties: Duties, stop: asyncio.Event) -> None:
        self._leader = True
        self._leader_since_ns = time.time_ns()
        self.terms += 1
        logger.info("leader now (%s, lock key %d)", self.holder, self.key)
        try:
            async with duties():
                while not stop.is_set():
                    await _wait(stop, self.config.check_s)
                    if not stop.is_set() and not await self._still_connected():
                        self.lost += 1
                        logger.warning("leadership lost (%s): stopping its duties", self.holder)
                        break
        except Exception as error:  # duties that cannot start: give the lock to another
            self._note_error(f"the leader's duties failed: {error}")
            logger.exception("the leader's duties failed")
        finally:
            self._leader = False
            await self._drop_connection()  # frees the lock if it was still held

    async def _still_connected(self) -> bool:
        """A ``SELECT 1`` on the lock connection answered within ``keepalive_s``."""
        try:
            await self._query("SELECT 1")
        except TimeoutError:
            self._note_error("the lock connection did not answer")
            return False
        except (psycopg.Error, OSError) as error:
            self._note_error(f"the lock connection failed: {error}")
            return False
        return True

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            logger.warning("%s", message)
        self.last_error = message


def _holder_of(application_name: str) -> str:
    prefix = "oracle-monitor leader "
    return application_name.removeprefix(prefix)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a late failure is expected, not an unhandled error


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
