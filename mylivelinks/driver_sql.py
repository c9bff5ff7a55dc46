"""The hottest statements, run by psycopg itself inside the session's transaction.

SQLAlchemy's execution layer costs CPU on top of psycopg's own (compiling the parameters,
the execution context, the result object): with the gift's statement through
`Session.execute` instead, the web side spent 2.29 ms of CPU per HTTP gift against
1.83 ms here, and served 0.894 times the gifts (bench/gifts_ab.py, bench/README.md).
The gift's statements and the ledger's `ledger_transfer` call (every coin movement) are
still built with SQLAlchemy Core, compiled once for the engine's dialect with PostgreSQL's
`$n` placeholders, and executed on a raw cursor of the session's connection, so the
session's commit or rollback ends them like any other. Parameters and rows are the
driver's values (UUID, int, str, datetime); psycopg prepares a statement once a
connection has run it five times. Column defaults that SQLAlchemy computes in Python
(`default=`) are not applied here: a statement gives those values itself or relies on
server defaults. Nor is Core's rule that an UPDATE's execution parameters named like its
table's columns become SET values (a statement run here through `Session.execute` would
need its parameters renamed first). Driver errors arrive as SQLAlchemy's, as from
`Session.execute`, and a lost connection is invalidated in the pool.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar, cast

import psycopg
from psycopg.rows import class_row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from mylivelinks.extensions import db

RowT = TypeVar("RowT")


def fetch_one(
    statement: ClauseElement, params: Mapping[str, Any], row_type: type[RowT]
) -> RowT | None:
    """Run the Core `statement` with `params` (by bind parameter name); its first row, built
    as `row_type(**columns)` (a NamedTuple or dataclass naming every column)."""
    sql, names, fixed = _compiled(statement)
    values = [params[name] if name in params else fixed[name] for name in names]
    connection = db.session.connection()
    driver_connection = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    try:
        with psycopg.RawCursor(driver_connection, row_factory=class_row(row_type)) as cursor:
            cursor.execute(sql, values)
            return cursor.fetchone()
    except psycopg.Error as error:
        dialect = connection.dialect
        lost = dialect.is_disconnect(cast(Any, error), connection.connection, None)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql.decode(), values, error, psycopg.Error, connection_invalidated=lost, dialect=dialect
        ) from error


@functools.lru_cache(maxsize=64)
def _compiled(statement: ClauseElement) -> tuple[bytes, tuple[str, ...], dict[str, Any]]:
    # PostgreSQL's own $n placeholders, so psycopg sends the SQL as it is: it would otherwise
    # parse every statement longer than 4 kB for its %(name)s placeholders at each run.
    dialect = cast(Any, type(db.engine.dialect))(paramstyle="numeric_dollar")
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    # Values fixed in the statement (a status compared with 'live', ...) are parameters too.
    fixed = {k: v for k, v in compiled.params.items() if v is not None}
    return str(compiled).encode(), tuple(compiled.positiontup or ()), fixed
