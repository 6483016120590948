"""A faithful fake of PostgREST's wire protocol (as Supabase serves it at ``/rest/v1``), for
the subset the ``supabase`` client's table API uses, on the REAL PostgreSQL.

PostgREST itself cannot be had on these machines; this server stands in for it over real
HTTP, and every request becomes SQL on the real database in one transaction, as PostgREST
does. What it speaks, checked against PostgREST's documentation (API reference: tables and
views, operators, pagination and count, Prefer header, errors) and postgrest-py's source:

* ``GET /rest/v1/<table>?select=a,b&<col>=<op>.<value>&order=a.desc,b&limit=&offset=``,
  operators ``eq neq gt gte lt lte like ilike in is`` (``not.`` before one negates it;
  ``like``'s ``*`` is ``%``; ``in.(1,"a,b")`` with double-quoted members), values cast to the
  column's type. Rows as a JSON array (``json_agg``, as PostgREST builds it). A ``Range:
  0-9`` header (``Range-Unit: items``) works like ``offset``/``limit``; the answer always has
  ``Content-Range: <first>-<last>/<total or *>`` (``*/<total>`` when empty), the total with
  ``Prefer: count=exact`` (then 206 Partial Content for part of the rows, and 416
  ``PGRST103`` for an offset past the end). ``max_rows`` caps every answer silently, as
  ``db-max-rows`` does (Supabase's default is 1000).
* ``POST /rest/v1/<table>?columns="a","b"&on_conflict=a`` with a JSON object or array:
  ``INSERT … SELECT … FROM json_populate_recordset``; ``Prefer: resolution=ignore-duplicates``
  is ``ON CONFLICT … DO NOTHING``, ``merge-duplicates`` ``DO UPDATE`` of every column sent
  (the conflict target is ``on_conflict``, else the primary key); ``return=minimal`` answers
  201 with no body, ``return=representation`` the rows; ``count=exact`` ``Content-Range: */N``.
* ``DELETE /rest/v1/<table>?<filters>``: 204 (``return=minimal``) or 200 with the rows;
  ``count=exact`` ``Content-Range: */N``.
* the schema: ``Accept-Profile`` (GET) / ``Content-Profile`` (POST, DELETE), default
  ``public``; one not exposed is 406 ``PGRST106``.
* the keys, as Supabase's gateway and PostgREST check them: no ``apikey`` header is 401 "No
  API key found in request", an unknown one 401 "Invalid API key"; ``Authorization: Bearer``
  other than a known key is 401 ``PGRST301``.
* errors as ``{"code", "message", "details", "hint"}``: PostgreSQL's SQLSTATE and message with
  PostgREST's status mapping (23505/23503 409, 42P01 404, 42501 403, 08* and 53* 503, the
  classes PostgREST sends as 500, otherwise 400); an unknown table 404 ``PGRST205``, an unknown
  column 400 ``42703``, a malformed parameter 400 ``PGRST100``.

Not spoken (the client does not use it here): embedding, ``select`` renames and casts,
``PATCH``, ``/rpc``, ``or=``/``and=``, JSON paths, full-text operators, CSV.

Tests can make requests fail: `FakePostgREST.fail` answers the next matching request with a
status and error JSON, before running it or, with ``after_commit=True``, after committing it
(an answer lost on the way back). `FakePostgREST.requests` records method, path, query and
the ``Prefer``/profile headers of every request (never the key).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import uvicorn
from psycopg import sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["FakePostgREST", "Fault"]

_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
              "like": "LIKE", "ilike": "ILIKE"}  # fmt: skip
_RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_HINT = "Double check your Supabase `anon` or `service_role` API key."


class _Problem(Exception):
    """An answer other than success: status and PostgREST's error JSON."""

    def __init__(self, status: int, code: str | None, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, "details": None, "hint": None, **extra}


@dataclass
class Fault:
    """Answer the next ``times`` requests of ``method`` on ``table`` with ``status``."""

    method: str
    table: str
    status: int
    body: dict[str, Any]
    times: int = 1
    after_commit: bool = False


def _status_of(sqlstate: str) -> int:
    """PostgREST's HTTP status of a PostgreSQL error (docs: Errors, HTTP Status Codes)."""
    exact = {"23503": 409, "23505": 409, "25006": 405, "42P01": 404, "42883": 404,
             "42501": 403, "53400": 500, "P0001": 400}  # fmt: skip
    if sqlstate in exact:
        return exact[sqlstate]
    prefix = sqlstate[:2]
    if prefix in ("08", "53"):
        return 503
    if prefix in ("0L", "0P", "28"):
        return 403
    if prefix in ("09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV",
                  "P0", "XX"):  # fmt: skip
        return 500
    return 400


def _split_list(text: str) -> list[str]:
    """``a,"b,c",d`` -> ``["a", "b,c", "d"]`` (postgrest-py quotes members with , : ( ) " \\)."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    was_quoted = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
            was_quoted = True
        elif char == "," and not quoted:
            items.append("".join(current) if was_quoted else "".join(current).strip())
            current, was_quoted = [], False
        else:
            current.append(char)
    items.append("".join(current) if was_quoted else "".join(current).strip())
    return items


class _Table:
    """A table's schema-qualified name and its columns' types."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str, name: str) -> None:
        rows = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v')"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (schema, name),
        ).fetchall()
        if not rows:
            raise _Problem(
                404, "PGRST205", f"Could not find the table '{schema}.{name}' in the schema cache"
            )
        self.schema, self.name = schema, name
        self.types: dict[str, str] = dict(rows)
        self.ident = sql.Identifier(schema, name)

    def column(self, name: str) -> sql.Identifier:
        if name not in self.types:
            raise _Problem(400, "42703", f"column {self.name}.{name} does not exist")
        return sql.Identifier(name)

    def value(self, column: str, text: str) -> sql.Composable:
        """``text`` as a literal of ``column``'s type (PostgREST sends it as unknown-typed)."""
        return sql.SQL("{}::{}").format(sql.Literal(text), sql.SQL(self.types[column]))

    def primary_key(self, conn: psycopg.Connection[Any]) -> list[str]:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (f'"{self.schema}"."{self.name}"',),
        ).fetchall()
        return [row[0] for row in rows]


def _where(table: _Table, filters: list[tuple[str, str]]) -> sql.Composable:
    conditions: list[sql.Composable] = []
    for column, expression in filters:
        ident = table.column(column)
        negate = expression.startswith("not.")
        if negate:
            expression = expression[4:]
        op, dot, value = expression.partition(".")
        if not dot:
            raise _Problem(400, "PGRST100", f'"failed to parse filter ({expression})"')
        if op in _OPERATORS:
            if op in ("like", "ilike"):
                value = value.replace("*", "%")
            condition: sql.Composable = sql.SQL("{} {} {}").format(
                ident, sql.SQL(_OPERATORS[op]), table.value(column, value)
            )
        elif op == "in":
            if not (value.startswith("(") and value.endswith(")")):
                raise _Problem(400, "PGRST100", f'"failed to parse filter (in.{value})"')
            members = _split_list(value[1:-1]) if value[1:-1] else []
            if not members:
                condition = sql.SQL("false")
            else:
                condition = sql.SQL("{} IN ({})").format(
                    ident, sql.SQL(", ").join(table.value(column, m) for m in members)
                )
        elif op == "is" and value.lower() in ("null", "true", "false", "unknown"):
            condition = sql.SQL("{} IS {}").format(ident, sql.SQL(value.upper()))
        else:
            raise _Problem(400, "PGRST100", f'"failed to parse filter ({op}.{value})"')
        conditions.append(sql.SQL("NOT ({})").format(condition) if negate else condition)
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")


def _order(table: _Table, text: str | None) -> sql.Composable:
    if not text:
        return sql.SQL("")
    terms = []
    for term in text.split(","):
        name, *modifiers = term.split(".")
        pieces: list[sql.Composable] = [table.column(name)]
        for modifier in modifiers:
            words = {"asc": "ASC", "desc": "DESC", "nullsfirst": "NULLS FIRST",
                     "nullslast": "NULLS LAST"}  # fmt: skip
            if modifier not in words:
                raise _Problem(400, "PGRST100", f'"failed to parse order ({text})"')
            pieces.append(sql.SQL(words[modifier]))
        terms.append(sql.SQL(" ").join(pieces))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(terms)


def _columns(table: _Table, text: str | None) -> sql.Composable:
    if text is None or text.strip() == "*":
        return sql.SQL("*")
    names = [name.strip() for name in text.split(",")]
    if not all(_NAME.fullmatch(name) for name in names):
        raise _Problem(400, "PGRST100", f'"failed to parse select parameter ({text})"')
    return sql.SQL(", ").join(table.column(name) for name in names)


def _prefer(header: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key:
            found[key] = value
    return found


def _content_range(offset: int, rows: int, total: int | None) -> str:
    whole = "*" if total is None else str(total)
    return f"{offset}-{offset + rows - 1}/{whole}" if rows else f"*/{whole}"


class FakePostgREST:
    """The fake, serving ``http://127.0.0.1:<port>/rest/v1`` for the database at ``dsn``.

    ``keys``: the API keys accepted; ``schemas``: those exposed (a callable, so that tests
    can expose fresh schemas); ``max_rows``: ``db-max-rows`` (None: unlimited).
    """

    def __init__(
        self, dsn: str, keys: set[str], schemas: Any = None, max_rows: int | None = 1000
    ) -> None:
        self.dsn = dsn
        self.keys = keys
        self.exposed = schemas if callable(schemas) else (lambda name: name == "public")
        self.max_rows = max_rows
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- test controls ----------------------------------------------------------------

    def fail(
        self,
        method: str,
        table: str,
        status: int,
        code: str | None = None,
        message: str = "injected failure",
        *,
        times: int = 1,
        after_commit: bool = False,
    ) -> None:
        """Make the next ``times`` ``method`` requests on ``table`` answer ``status``."""
        body = {"code": code, "message": message, "details": None, "hint": None}
        with self._lock:
            self.faults.append(Fault(method, table, status, body, times, after_commit))

    def _take_fault(self, method: str, table: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.table == table and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # -- the protocol -----------------------------------------------------------------

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("apikey")
        if not key:
            raise _Problem(401, None, "No API key found in request",
                           hint="No `apikey` request header or url param was found.")  # fmt: skip
        if key not in self.keys:
            raise _Problem(401, None, "Invalid API key", hint=_KEY_HINT)
        bearer = request.headers.get("authorization", "")
        if bearer and bearer.removeprefix("Bearer ") not in self.keys:
            raise _Problem(401, "PGRST301", "JWSError JWSInvalidSignature")

    def _schema(self, request: Request) -> str:
        header = "accept-profile" if request.method == "GET" else "content-profile"
        schema = request.headers.get(header, "public")
        if not self.exposed(schema):
            raise _Problem(406, "PGRST106", "Invalid schema: " + schema,
                           hint="Only the following schemas are exposed: public")  # fmt: skip
        return schema

    def _handle(self, method: str, table_name: str, request: Request, body: bytes) -> Response:
        self._authenticate(request)
        schema = self._schema(request)
        params = request.query_params.multi_items()
        options = {key: value for key, value in params if key in _RESERVED}
        filters = [(key, value) for key, value in params if key not in _RESERVED]
        prefer = _prefer(request.headers.get("prefer"))
        fault = self._take_fault(method, table_name)
        if fault is not None and not fault.after_commit:
            return _json(fault.status, fault.body)
        with psycopg.connect(self.dsn, autocommit=True) as conn, conn.transaction():
            table = _Table(conn, schema, table_name)
            if method == "GET":
                response = self._select(conn, table, options, filters, prefer, request)
            elif method == "POST":
                response = self._insert(conn, table, options, prefer, body)
            else:
                response = self._delete(conn, table, filters, prefer)
        if fault is not None:  # committed, but the answer is lost
            return _json(fault.status, fault.body)
        return response

    def _select(
        self,
        conn: psycopg.Connection[Any],
        table: _Table,
        options: dict[str, str],
        filters: list[tuple[str, str]],
        prefer: dict[str, str],
        request: Request,
    ) -> Response:
        try:
            offset = int(options.get("offset", 0))
            limit = int(options["limit"]) if "limit" in options else None
            if request.headers.get("range"):
                first, _, last = request.headers["range"].partition("-")
                offset = int(first)
                limit = int(last) - offset + 1 if last else limit
        except ValueError:
            raise _Problem(400, "PGRST100", "failed to parse limit, offset or Range") from None
        if self.max_rows is not None:
            limit = self.max_rows if limit is None else min(limit, self.max_rows)
        where = _where(table, filters)
        query = sql.SQL("SELECT {} FROM {} WHERE {}{}{}{}").format(
            _columns(table, options.get("select")),
            table.ident,
            where,
            _order(table, options.get("order")),
            sql.SQL("") if limit is None else sql.SQL(" LIMIT {}").format(limit),
            sql.SQL(" OFFSET {}").format(offset) if offset else sql.SQL(""),
        )
        wrapped = sql.SQL("SELECT coalesce(json_agg(t), '[]'), count(*) FROM ({}) AS t").format(
            query
        )
        row = conn.execute(wrapped).fetchone()
        assert row is not None
        total = None
        if prefer.get("count") == "exact":
            counted = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table.ident, where)
            ).fetchone()
            total = int(counted[0]) if counted else 0
        if total is not None and offset > 0 and offset >= total:
            raise _Problem(
                416, "PGRST103", "Requested range not satisfiable",
                details=f"An offset of {offset} was requested, but there are only {total} rows.",
            )  # fmt: skip
        partial = total is not None and int(row[1]) < total  # 206 with a count, as PostgREST
        return Response(
            json.dumps(row[0]),
            206 if partial else 200,
            {"Content-Range": _content_range(offset, int(row[1]), total), "Range-Unit": "items"},
            media_type="application/json",
        )

    def _insert(
        self,
        conn: psycopg.Connection[Any],
        table: _Table,
        options: dict[str, str],
        prefer: dict[str, str],
        body: bytes,
    ) -> Response:
        try:
            payload = json.loads(body)
        except ValueError:
            raise _Problem(400, "PGRST102", "Empty or invalid json") from None
        rows = [payload] if isinstance(payload, dict) else payload
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise _Problem(400, "PGRST102", "Empty or invalid json")
        if "columns" in options:
            names = _split_list(options["columns"])
        else:
            names = list(rows[0]) if rows else []
            if any(set(r) != set(names) for r in rows):
                raise _Problem(400, "PGRST102", "All object keys must match")
        columns = sql.SQL(", ").join(table.column(name) for name in names)
        resolution = prefer.get("resolution")
        conflict: sql.Composable = sql.SQL("")
        if resolution in ("ignore-duplicates", "merge-duplicates"):
            target = (
                _split_list(options["on_conflict"])
                if "on_conflict" in options
                else table.primary_key(conn)
            )
            action: sql.Composable = sql.SQL("DO NOTHING")
            if resolution == "merge-duplicates":
                action = sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in names
                )
            conflict = sql.SQL(" ON CONFLICT ({}) {}").format(
                sql.SQL(", ").join(table.column(n) for n in target), action
            )
        statement = sql.SQL(
            "WITH ins AS (INSERT INTO {t} ({c}) SELECT {c} FROM json_populate_recordset("
            "NULL::{t}, {rows}){conflict} RETURNING *)"
            " SELECT coalesce(json_agg(ins), '[]'), count(*) FROM ins"
        ).format(t=table.ident, c=columns, rows=sql.Literal(json.dumps(rows)), conflict=conflict)
        result = conn.execute(statement).fetchone()
        assert result is not None
        headers = {"Content-Range": f"*/{result[1]}"} if prefer.get("count") else {}
        if prefer.get("return") == "representation":
            return Response(json.dumps(result[0]), 201, headers, media_type="application/json")
        return Response(b"", 201, headers)

    def _delete(
        self,
        conn: psycopg.Connection[Any],
        table: _Table,
        filters: list[tuple[str, str]],
        prefer: dict[str, str],
    ) -> Response:
        statement = sql.SQL(
            "WITH d AS (DELETE FROM {} WHERE {} RETURNING *)"
            " SELECT coalesce(json_agg(d), '[]'), count(*) FROM d"
        ).format(table.ident, _where(table, filters))
        result = conn.execute(statement).fetchone()
        assert result is not None
        headers = {"Content-Range": f"*/{result[1]}"} if prefer.get("count") else {}
        if prefer.get("return") == "representation":
            return Response(json.dumps(result[0]), 200, headers, media_type="application/json")
        return Response(b"", 204, headers)

    async def _endpoint(self, request: Request) -> Response:
        method, table = request.method, request.path_params["table"]
        self.requests.append(
            {
                "method": method,
                "table": table,
                "query": str(request.url.query),
                **{h: request.headers.get(h) for h in ("prefer", "accept-profile",
                                                      "content-profile", "range")},
            }
        )  # fmt: skip
        body = await request.body()
        try:
            return await asyncio.to_thread(self._handle, method, table, request, body)
        except _Problem as problem:
            return _json(problem.status, problem.body)
        except psycopg.Error as error:
            diag = error.diag
            state = diag.sqlstate or "XX000"
            return _json(
                _status_of(state),
                {"code": state, "message": diag.message_primary or str(error),
                 "details": diag.message_detail, "hint": diag.message_hint},
            )  # fmt: skip

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free loopback port; returns the project URL (``http://127.0.0.1:N``)."""
        app = Starlette(
            routes=[Route("/rest/v1/{table}", self._endpoint, methods=["GET", "POST", "DELETE"])]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the fake PostgREST did not start")
            threading.Event().wait(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)

    @contextlib.contextmanager
    def running(self) -> Iterator[FakePostgREST]:
        """``with fake.running():`` starts and stops it."""
        self.start()
        try:
            yield self
        finally:
            self.stop()


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status, media_type="application/json")
