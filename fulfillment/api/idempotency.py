"""``Idempotency-Key`` on POST: replay, 409 while in flight, 422 for a different body; kept 24 h.

See ``IdempotencyRecord`` for the commit order that makes a crash safe to retry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from fulfillment.models import IdempotencyRecord

from .errors import APIError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A request never runs longer than this (gunicorn's timeout is lower): an older in-flight record
# belongs to a process that died, and its transaction rolled back, so the key may run again.
IN_FLIGHT_STALE_AFTER = timedelta(seconds=120)


class IdempotentReplay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.response = Response(
            record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"}
        )


def principal_of(request) -> str:
    actor = request.actor
    return f"key:{actor.api_key.pk}" if actor.api_key else f"user:{actor.user.pk}"


def fingerprint_of(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.get_full_path().encode() + b"\0")
    digest.update(request._request.body)
    return digest.hexdigest()


def begin(request) -> IdempotencyRecord | None:
    """Claim the key for this request, or raise: a replay, a 409 (in flight) or a 422 (other body)."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise APIError(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} characters.",
            code="invalid",
            fields={HEADER: [f"Must be 1-{MAX_KEY_LENGTH} characters."]},
        )
    principal, fingerprint, now = principal_of(request), fingerprint_of(request), timezone.now()
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    for _ in range(2):
        try:
            return _claim(
                principal=principal,
                key=key,
                fingerprint=fingerprint,
                method=request.method,
                path=request.path[:500],
                locked_at=now,
            )
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
        if record is None:
            continue  # purged in between: claim it again
        if record.created_at < now - ttl:
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            raise APIError(
                f"This {HEADER} was used with a different request; use a new key for a new request.",
                code="idempotency_key_reused",
                status_code=422,
                fields={HEADER: ["Already used with a different request body or path."]},
            )
        if record.state == IdempotencyRecord.State.COMPLETED:
            raise IdempotentReplay(record)
        if record.locked_at < now - IN_FLIGHT_STALE_AFTER and (
            IdempotencyRecord.objects.filter(pk=record.pk, locked_at=record.locked_at).update(locked_at=now)
        ):
            record.locked_at = now
            return record
        raise APIError(
            f"A request with this {HEADER} is still being processed; retry shortly.",
            code="idempotency_key_in_flight",
            status_code=409,
        )
    raise APIError(
        f"Could not claim this {HEADER}; retry.", code="idempotency_key_in_flight", status_code=409
    )


def _claim(**fields) -> IdempotencyRecord:
    """Insert the in-flight record, committed before the request runs: in autocommit one
    statement is its own transaction (no BEGIN and COMMIT around it); inside a caller's
    transaction, a savepoint keeps a conflict from breaking it. A key claimed already is an
    ``IntegrityError``, as the unique constraint raises it."""
    if connection.vendor != "postgresql":
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(**fields)
        return IdempotencyRecord.objects.create(**fields)
    # ON CONFLICT DO NOTHING: a taken key inserts nothing and raises nothing (no savepoint needed).
    record = IdempotencyRecord(**fields, state=IdempotencyRecord.State.IN_FLIGHT, created_at=timezone.now())
    # In autocommit the claim is its own transaction, committed without waiting for its WAL to
    # reach the disk (two statements in one string run as one transaction; SET LOCAL ends with it):
    # the request's transaction then commits durably, which flushes the WAL up to and past the
    # claim. A crash in between loses the claim with nothing behind it, and a retry runs again.
    sql = _CLAIM_SQL if connection.in_atomic_block else _ASYNC_COMMIT + _CLAIM_SQL
    with connection.cursor() as cursor:
        cursor.execute(sql, [getattr(record, name) for name in _CLAIM_FIELDS])
        row = cursor.fetchone()
    if row is None:
        raise IntegrityError("This Idempotency-Key is taken.")
    record.pk = row[0]
    record._state.adding, record._state.db = False, connection.alias
    return record


_CLAIM_FIELDS = ("principal", "key", "fingerprint", "method", "path", "state", "locked_at", "created_at")
_TABLE = IdempotencyRecord._meta.db_table
_CLAIM_SQL = (
    f"INSERT INTO {_TABLE} ({', '.join(_CLAIM_FIELDS)}) VALUES ({', '.join(['%s'] * len(_CLAIM_FIELDS))}) "
    "ON CONFLICT (principal, key) DO NOTHING RETURNING id"
)
_ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF; "
_COMPLETE_SQL = (
    f"UPDATE {_TABLE} SET state = %s, response_status = %s, response_body = %s::jsonb WHERE id = %s"
)


def complete(record: IdempotencyRecord, response: Response) -> None:
    """Store the response (inside the request's transaction) so a retry replays it: the body as
    the client receives it (DRF's JSON), stored as it is rendered. A response negotiated as JSON is
    rendered here once, for the client and the record alike."""
    if response.data is None:
        body = None
    elif isinstance(getattr(response, "accepted_renderer", None), JSONRenderer):
        body = response.render().content.decode()
    else:  # (the browsable API's HTML): the record keeps the JSON
        body = JSONRenderer().render(response.data).decode()
    if connection.vendor != "postgresql":
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyRecord.State.COMPLETED,
            response_status=response.status_code,
            response_body=json.loads(body) if body is not None else None,
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _COMPLETE_SQL, [IdempotencyRecord.State.COMPLETED, response.status_code, body, record.pk]
        )


def release(record: IdempotencyRecord) -> None:
    """The request failed on our side: forget the key so the caller can retry it."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()


def purge_expired_idempotency_records() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
