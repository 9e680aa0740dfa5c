"""Set-based writes for the batch paths (a batch allocation writes hundreds of orders, balances,
reservations and events, each row with values of its own), one statement each.

On PostgreSQL: ``UPDATE ... FROM (VALUES ...)`` (Django's ``bulk_update`` builds a ``CASE`` per
column with a branch per row, which the database evaluates row by row: quadratic in the batch) and
``INSERT ... SELECT * FROM UNNEST(...)`` from plain tuples (no model instance per row: at
thousands of rows a second their construction costs more than the database's work). Elsewhere (the
embedded SQLite default) they fall back to the ORM. The caller holds the rows' locks and has
checked what it writes; these bypass the scoped managers on purpose (the caller read the primary
keys inside its scope).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import F, Field, Model
from django.db.models.base import ModelState

# Values psycopg2 adapts as they are: no need for the field's conversion (aware datetimes stay aware).
_PLAIN = (int, str, bool, float, Decimal, datetime, date, type(None))


def _db_value(field: Field, value: Any) -> Any:
    return value if isinstance(value, _PLAIN) else field.get_db_prep_save(value, connection)


def _cast_type(field: Field) -> str:
    """The column's type without its modifier, for a cast: a cast to ``varchar(64)`` (or to
    ``varchar(64)[]``) cuts a longer value silently, where the column itself refuses it."""
    return re.sub(r"\(.*?\)", "", field.db_type(connection))


def _values(rows: list[tuple], types: list[str]) -> str:
    """``VALUES`` rows with the first cast to the column types (PostgreSQL resolves every other
    row's literals to the same types)."""
    first = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    rest = "(" + ", ".join(["%s"] * len(types)) + ")"
    return ", ".join([first] + [rest] * (len(rows) - 1))


def instance(model: type[Model], values: Iterable[tuple[str, Any]], *, db: str | None = None) -> Model:
    """A model instance set up as ``Model.__init__`` leaves it (each value, by attribute name, in
    the instance's ``__dict__``; a new ``ModelState``), or as ``Model.from_db`` does when ``db``
    is given (the fields left out deferred), without their loop over the fields, for the models
    a batch makes thousands of. Only for a model with no ``pre_init``/``post_init`` receiver and
    no data descriptor on a field's attribute but a foreign key's, which stores in ``__dict__``."""
    obj = model.__new__(model)
    obj.__dict__.update(values)
    obj._state = ModelState()
    if db is not None:
        obj._state.adding, obj._state.db = False, db
    return obj


def made(
    model: type[Model],
    values: Mapping[str, Any],
    related: Mapping[str, Model | None] | None = None,
    *,
    db: str | None = None,
) -> Model:
    """``model(**values, **related)`` built as ``instance`` builds (same conditions): each concrete
    field's default, then ``values`` by attribute name (a foreign key's id as ``client_id``), and
    the ``related`` objects (by field name: ``client``) cached as their foreign keys' descriptors
    cache them, for the rows a request writes several of and answers with (an order's lines)."""
    obj = instance(model, ((name, default()) for name, default in field_defaults(model)), db=db)
    obj.__dict__.update(values)
    if related:
        obj._state.fields_cache = dict(related)
    return obj


@lru_cache(maxsize=64)
def field_defaults(model: type[Model]) -> tuple[tuple[str, Any], ...]:
    """Each concrete field's attribute name and the function giving its default, in field order."""
    return tuple((f.attname, f._get_default) for f in model._meta.concrete_fields)


def update_fields(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of every object of ``objs`` (each with its own values): one statement."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    types = [meta.pk.rel_db_type(connection)] + [_cast_type(f) for f in columns]
    names = [f.attname for f in columns]
    rows = [
        (obj.pk, *(_db_value(f, getattr(obj, n)) for f, n in zip(columns, names, strict=True)))
        for obj in objs
    ]
    column_list = ", ".join(quote(f.column) for f in columns)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
        f"FROM (VALUES {_values(rows, types)}) AS v(pk, {column_list}) WHERE t.{quote(meta.pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def add_to_field(model: type[Model], field: str, deltas: Mapping[int, int]) -> None:
    """``field = field + delta`` for each primary key of ``deltas`` (a relative update, like
    ``F()``): one statement."""
    if not deltas:
        return
    ordered = sorted(deltas.items())
    if connection.vendor != "postgresql":
        for pk, delta in ordered:
            model._base_manager.filter(pk=pk).update(**{field: F(field) + delta})
        return
    meta = model._meta
    quote = connection.ops.quote_name
    column = quote(meta.get_field(field).column)
    types = [meta.pk.rel_db_type(connection), "integer"]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {column} = t.{column} + v.delta "
        f"FROM (VALUES {_values(ordered, types)}) AS v(pk, delta) WHERE t.{quote(meta.pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in ordered for value in row])


def insert_rows(model: type[Model], fields: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert ``rows`` (tuples of the values of ``fields``, by attribute name: ``order_id``) in
    one statement. Fields left out take their database default, so give every non-null one
    (``auto_now_add`` included)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        _orm_insert(model, fields, rows)
        return
    sql, params = _insert(model, tuple(fields), (), (), rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def insert_statement(model: type[Model], fields: Sequence[str], rows: Sequence[tuple]) -> Statement | None:
    """``insert_rows``'s statement, to send ahead of another (``insert_returning(before=...)``):
    PostgreSQL only; None for no rows."""
    if not rows:
        return None
    return _insert(model, tuple(fields), (), (), rows)


# A statement and its parameters.
Statement = tuple[str, list]


def insert_returning(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[tuple],
    *,
    returning: Sequence[str] = ("id",),
    on_conflict_do_nothing: Sequence[str] = (),
    before: Sequence[Statement | None] = (),
) -> list[tuple]:
    """``insert_rows``, and the ``returning`` columns of each inserted row (in the order of
    ``rows``: PostgreSQL inserts ``UNNEST``'s rows in order, as Django's own ``bulk_create`` relies
    on). With ``on_conflict_do_nothing`` (the columns of a unique constraint) a row that conflicts
    is skipped and returns nothing, so map the result by a key rather than by position.

    ``before``: statements that return nothing (``insert_statement``), sent with this one in one
    round trip and run first, in order (PostgreSQL only)."""
    ahead = [statement for statement in before if statement is not None]
    if connection.vendor != "postgresql":
        if ahead:
            raise NotImplementedError("statements sent together need PostgreSQL here")
        if not rows:
            return []
        if on_conflict_do_nothing:
            raise NotImplementedError("ON CONFLICT needs PostgreSQL here")
        objs = _orm_insert(model, fields, rows)
        return [tuple(getattr(obj, name) for name in returning) for obj in objs]
    statements = ahead
    if rows:
        statements = [
            *ahead,
            _insert(model, tuple(fields), tuple(returning), tuple(on_conflict_do_nothing), rows),
        ]
    if not statements:
        return []
    # Several statements go as one string (psycopg2 fills in the parameters before sending it):
    # the cursor holds the last one's rows.
    sql = "; ".join(sql for sql, _ in statements)
    params = statements[0][1] if len(statements) == 1 else [v for _, p in statements for v in p]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if rows else []


def _orm_insert(model: type[Model], fields: Sequence[str], rows: Sequence[tuple]) -> list[Model]:
    """The ORM's insert of exactly the values given (elsewhere than on PostgreSQL: the embedded
    SQLite default), in batches the backend accepts, each object given its primary key. ``raw``, as
    fixtures are loaded: ``bulk_create`` would put the time of the insert in an ``auto_now_add``
    field over the time the caller gave it (a status event's, as the API's answer showed it)."""
    objs = [model(**dict(zip(fields, row, strict=True))) for row in rows]
    columns = _fields(model, tuple(fields))
    returned = model._meta.db_returning_fields
    size = max(connection.ops.bulk_batch_size(columns, objs), 1)
    for start in range(0, len(objs), size):
        chunk = objs[start : start + size]
        rows_back = model._base_manager._insert(
            chunk, fields=columns, returning_fields=returned, raw=True, using=connection.alias
        )
        for obj, values in zip(chunk, rows_back, strict=True):
            for field, value in zip(returned, values, strict=True):
                setattr(obj, field.attname, value)
            obj._state.adding, obj._state.db = False, connection.alias
    return objs


# Values that may be given once for every row when all rows agree: equal values of these types
# are the same value to the database (a Decimal or a float may differ in scale or sign of zero; a
# str subclass, a model's choice, is its str). A dict or list (JSON) must also be written the same
# way: {"a": 1} == {"a": True} == {"a": 1.0}, three different documents.
_FOLDABLE = (int, bool, datetime, date, type(None))
_JSON = (dict, list)


def _shared(values: list) -> bool:
    """Whether every value is the first one, to the database."""
    first = values[0]
    kind = type(first)
    if isinstance(first, str):
        return all(isinstance(v, str) and v == first for v in values)
    if kind in _JSON:
        written = repr(first)
        return all(type(v) is kind and v == first and repr(v) == written for v in values)
    if kind not in _FOLDABLE:
        return False
    return all(type(v) is kind and v == first for v in values)


def _insert(model: type[Model], fields: tuple, returning: tuple, conflict: tuple, rows: Sequence[tuple]):
    """The statement for these rows and its parameters. One row is a plain ``VALUES`` row; more
    are ``UNNEST``ed from one array per column, except that a column whose value is the same in
    every row (the client, a status, a timestamp, an empty field: most of an order's columns) is
    given once, as a scalar: psycopg2 adapts each array element on its own and PostgreSQL parses
    it, so a batch of orders costs a fraction of its forty arrays."""
    columns = _fields(model, fields)
    if len(rows) == 1:
        return _insert_sql(model, fields, returning, conflict, None), _params_of(columns, rows[0])
    raw = [[row[i] for row in rows] for i in range(len(columns))]
    same = [_shared(values) for values in raw]
    if all(same):
        same[0] = False  # one array at least, so that UNNEST makes a row for each row
    folded = tuple(same)
    scalars = [_db_value(f, values[0]) for f, values, once in zip(columns, raw, folded, strict=True) if once]
    spread = [_converted(f, values) for f, values, once in zip(columns, raw, folded, strict=True) if not once]
    return _insert_sql(model, fields, returning, conflict, folded), scalars + spread


def _params_of(columns: list[Field], row: tuple) -> list:
    """One row's values, each converted for the database."""
    return [_db_value(f, v) for f, v in zip(columns, row, strict=True)]


def _converted(field: Field, values: list) -> list:
    """A column's values for its ``UNNEST`` array."""
    if all(isinstance(v, _PLAIN) for v in values):
        return values
    return [_db_value(field, v) for v in values]


@lru_cache(maxsize=256)
def _fields(model: type[Model], fields: tuple) -> list[Field]:
    return [next(f for f in model._meta.concrete_fields if f.attname == name) for name in fields]


@lru_cache(maxsize=1024)
def _insert_sql(
    model: type[Model], fields: tuple, returning: tuple, conflict: tuple, same: tuple[bool, ...] | None
) -> str:
    """The statement, built once per shape (a column's type is costly to render): ``same`` is
    None for a single row (a ``VALUES`` row: PostgreSQL plans ``UNNEST`` of forty typed
    one-element arrays in several times the time it takes to insert the row), else which columns
    are given once (their scalars come first in the parameters, then the other columns' arrays)."""
    meta = model._meta
    columns = _fields(model, fields)
    quote = connection.ops.quote_name
    if same is None:
        source = "VALUES (" + ", ".join(["%s"] * len(columns)) + ")"  # typed by the columns
    else:
        spread = [(i, f) for i, (f, folded) in enumerate(zip(columns, same, strict=True)) if not folded]
        select = ", ".join(
            f"%s::{_cast_type(f)}" if folded else f"u.c{i}"
            for i, (f, folded) in enumerate(zip(columns, same, strict=True))
        )
        arrays = ", ".join(f"%s::{_cast_type(f)}[]" for _, f in spread)
        aliases = ", ".join(f"c{i}" for i, _ in spread)
        source = f"SELECT {select} FROM UNNEST({arrays}) AS u({aliases})"
    sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) {source}"
    if conflict:
        sql += (
            f" ON CONFLICT ({', '.join(quote(meta.get_field(name).column) for name in conflict)}) DO NOTHING"
        )
    if returning:
        sql += f" RETURNING {', '.join(quote(meta.get_field(name).column) for name in returning)}"
    return sql
