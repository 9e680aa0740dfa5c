"""The carrier tracking webhook: ``POST /webhooks/carriers/<token>/tracking/``.

It authenticates by signature, not by API key: the token in the path finds the carrier, and the
body must carry ``X-Carrier-Signature``, the hex HMAC-SHA256 of the raw body with the carrier's
``webhook_secret``. An unknown token and a bad signature get the same 401, so the URL reveals
nothing. The body is one event or a list of them::

    {"tracking_number": "1Z...", "status": "in_transit", "occurred_at": "2026-03-02T14:05:00Z",
     "location": "Secaucus, NJ", "description": "Departed facility", "estimated_delivery_date":
     "2026-03-04", "event_id": "evt-123"}

A carrier's events only ever reach the shipments that carrier labelled: the shipment is looked up
among that carrier's tracking numbers (``Shipment.all_objects``, before any tenant is known), then
the event is recorded inside that shipment's client scope. An unknown tracking number is a 404 for
that event and says nothing else. Redeliveries (same ``event_id``) answer 200 and record nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope, scopes_disabled

from accounts.actors import Actor
from fulfillment.api.errors import json_error

from .enums import TrackingSource, TrackingStatus
from .models import Carrier, Package, Shipment, TrackingEvent
from .services.tracking import record_tracking_event

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Carrier-Signature"
MAX_EVENTS = 500
_DUMMY_SECRET = "no-such-carrier"  # an unknown token costs the same HMAC as a bad signature


def signature_of(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(carrier: Carrier | None, body: bytes, signature: str) -> bool:
    secret = carrier.webhook_secret if carrier and carrier.active else ""
    expected = signature_of(secret or _DUMMY_SECRET, body)
    return hmac.compare_digest(expected.encode(), (signature or "").strip().lower().encode()) and bool(secret)


def _find(carrier: Carrier, tracking_number: str) -> Shipment | None:
    """The shipment this carrier labelled with this number (the shipment's or a package's)."""
    found = Shipment.all_objects.filter(carrier=carrier, tracking_number=tracking_number).first()
    if found is None:
        with scopes_disabled():  # narrowed to this carrier's parcels before any tenant is known
            package = (
                Package.objects.filter(shipment__carrier=carrier, tracking_number=tracking_number)
                .select_related("shipment")
                .first()
            )
        found = package.shipment if package else None
    return found


def _parse(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValidationError({"body": ["Each event is a JSON object."]})
    errors: dict[str, list[str]] = {}
    tracking_number = str(item.get("tracking_number") or "").strip()
    if not tracking_number:
        errors["tracking_number"] = ["This field is required."]
    status = str(item.get("status") or "").strip().lower()
    if status not in TrackingStatus.values:
        errors["status"] = [f"Use one of {', '.join(TrackingStatus.values)}."]
    occurred_at = parse_datetime(str(item.get("occurred_at") or ""))
    if occurred_at is None or occurred_at.tzinfo is None:
        errors["occurred_at"] = ["An ISO 8601 time with its offset, e.g. 2026-03-02T14:05:00Z."]
    eta_raw = item.get("estimated_delivery_date")
    eta = parse_date(str(eta_raw)) if eta_raw else None
    if eta_raw and eta is None:
        errors["estimated_delivery_date"] = ["A date, YYYY-MM-DD."]
    if errors:
        raise ValidationError(errors)
    return {
        "tracking_number": tracking_number,
        "status": status,
        "occurred_at": occurred_at,
        "location": str(item.get("location") or "")[:200],
        "description": str(item.get("description") or "")[:300],
        "estimated_delivery_date": eta,
        "external_id": str(item.get("event_id") or "")[:100],
    }


def receive_event(carrier: Carrier, item: Any) -> tuple[int, dict[str, Any]]:
    """One event: (HTTP status, answer). The answer echoes only what the carrier sent."""
    try:
        data = _parse(item)
    except ValidationError as exc:
        return 400, {"result": "invalid", "fields": exc.message_dict}
    answer = {"tracking_number": data["tracking_number"], "event_id": data["external_id"] or None}
    shipment = _find(carrier, data.pop("tracking_number"))
    if shipment is None:
        return 404, {**answer, "result": "unknown_tracking_number"}
    actor = Actor.system(f"carrier {carrier.code}")
    with scope(client=shipment.client_id):
        external_id = data["external_id"]
        if external_id and TrackingEvent.objects.filter(shipment=shipment, external_id=external_id).exists():
            return 200, {**answer, "result": "duplicate"}
        try:
            record_tracking_event(actor=actor, shipment=shipment, source=TrackingSource.CARRIER, **data)
        except ValidationError as exc:
            return 400, {**answer, "result": "invalid", "fields": exc.message_dict}
    return 201, {**answer, "result": "recorded"}


@csrf_exempt
@require_POST
def carrier_tracking_webhook(request: HttpRequest, token: str) -> JsonResponse:
    body = request.body
    carrier = Carrier.objects.filter(webhook_token=token).first()
    if not verify(carrier, body, request.headers.get(SIGNATURE_HEADER, "")):
        return json_error("unauthorized", "Unknown endpoint or bad signature.", 401)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return json_error("invalid", "The body is not JSON.", 400)
    if isinstance(payload, list):
        if len(payload) > MAX_EVENTS:
            return json_error("invalid", f"At most {MAX_EVENTS} events per delivery.", 400)
        results = []
        for index, item in enumerate(payload):
            code, answer = receive_event(carrier, item)
            results.append({"index": index, "status_code": code, **answer})
        counts = {k: sum(r["result"] == k for r in results) for k in ("recorded", "duplicate")}
        return JsonResponse({**counts, "results": results}, status=200)
    code, answer = receive_event(carrier, payload)
    if code >= 400:
        logger.info("Carrier %s tracking event refused (%s): %s", carrier.code, code, answer.get("result"))
    return JsonResponse(answer, status=code)
