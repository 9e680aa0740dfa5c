"""Shopify intake: a per-client ``orders/create`` webhook, verified with ``X-Shopify-Hmac-Sha256``.

The endpoint authenticates by signature, not by API key: an unknown URL and a bad signature get the
same 401, so the URL reveals nothing about which clients exist. Shopify treats any 2xx as delivered
and retries anything else (for up to 48 hours), so:
- a repeated delivery (the same order again, whatever its ``X-Shopify-Webhook-Id``) answers 200 and
  creates nothing;
- an order with nothing to ship (every line ``requires_shipping: false``) answers 200 and is ignored;
- a payload we cannot read answers 400 naming the field; Shopify will retry it, and the retries show
  up in the store's webhook report until the payload or the mapping is fixed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope

from accounts.actors import Actor
from accounts.models import Client
from accounts.roles import Perm
from accounts.services import audit_record
from fulfillment.api.errors import error_body, json_error

from . import services
from .enums import Channel, ServiceLevel
from .models import Order, ShopifyConnection

logger = logging.getLogger(__name__)

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TOPIC_HEADER = "X-Shopify-Topic"
_DUMMY_SECRET = "no-such-connection"  # keeps an unknown URL as slow as a bad signature

# First match wins, so "next day" is overnight before "day" could mean anything else.
SERVICE_LEVEL_PATTERNS = (
    (re.compile(r"overnight|next[\s_-]*day|1[\s_-]*day|one[\s_-]*day", re.I), ServiceLevel.OVERNIGHT),
    (re.compile(r"2[\s_-]*day|two[\s_-]*day|second[\s_-]*day", re.I), ServiceLevel.TWO_DAY),
    (re.compile(r"express|expedited|priority|rush", re.I), ServiceLevel.EXPEDITED),
)


# --- the connection ------------------------------------------------------------------------------

MANAGE_PERMS = (Perm.API_KEY_MANAGE, Perm.CLIENT_UPDATE)


def _require_manage(actor: Actor, client_id: int) -> None:
    perm = next((p for p in MANAGE_PERMS if actor.can(p)), None)
    if perm is None:
        raise PermissionDenied("Your role may not manage store connections.")
    actor.require(perm, client_id=client_id)


@transaction.atomic
def connection_create(
    *, actor: Actor, client: Client, shop_domain: str, webhook_secret: str, active: bool = True
) -> ShopifyConnection:
    _require_manage(actor, client.pk)
    if ShopifyConnection.objects.filter(client=client).exists():
        raise ValidationError({"client": ["This client has a Shopify connection already; update it."]})
    connection = ShopifyConnection(
        client=client,
        shop_domain=shop_domain.strip().lower(),
        webhook_secret=webhook_secret.strip(),
        active=active,
    )
    connection.full_clean(exclude=["client", "token"], validate_unique=False)
    connection.save()
    audit_record(
        actor=actor,
        action="shopify.connected",
        target=connection,
        client_id=client.pk,
        changes={"shop_domain": [None, connection.shop_domain]},
    )
    return connection


@transaction.atomic
def connection_update(*, actor: Actor, connection: ShopifyConnection, **fields: Any) -> ShopifyConnection:
    _require_manage(actor, connection.client_id)
    if unknown := set(fields) - {"shop_domain", "webhook_secret", "active"}:
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    changes = {}
    for name, value in fields.items():
        value = value.strip().lower() if name == "shop_domain" else value
        value = value.strip() if name == "webhook_secret" else value
        if getattr(connection, name) != value:
            # The secret itself never goes into the audit trail.
            changes[name] = ["…", "…"] if name == "webhook_secret" else [getattr(connection, name), value]
            setattr(connection, name, value)
    connection.full_clean(exclude=["client", "token"], validate_unique=False)
    connection.save()
    if changes:
        audit_record(
            actor=actor,
            action="shopify.updated",
            target=connection,
            client_id=connection.client_id,
            changes=changes,
        )
    return connection


# --- verification and mapping --------------------------------------------------------------------


def signature_of(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(connection: ShopifyConnection | None, body: bytes, signature: str) -> bool:
    secret = connection.webhook_secret if connection and connection.active else ""
    expected = signature_of(secret or _DUMMY_SECRET, body)
    return hmac.compare_digest(expected.encode(), (signature or "").strip().encode()) and bool(secret)


def service_level_for(shipping_lines: list[dict]) -> str:
    for line in shipping_lines:
        text = " ".join(str(line.get(k) or "") for k in ("title", "code", "source"))
        for pattern, level in SERVICE_LEVEL_PATTERNS:
            if pattern.search(text):
                return level
    return ServiceLevel.STANDARD


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_order(payload: Any) -> dict[str, Any] | None:
    """Shopify's ``orders/create`` payload as ``order_create`` keyword arguments (ValidationError
    naming the payload's field), or None when no line needs shipping."""
    if not isinstance(payload, dict):
        raise ValidationError({"body": ["Expected a JSON object (Shopify's order)."]})
    reference = _text(payload.get("name")) or _text(payload.get("id"))
    if not reference:
        raise ValidationError({"name": ["The order has neither a name nor an id."]})
    address = payload.get("shipping_address")
    if not isinstance(address, dict):
        raise ValidationError({"shipping_address": ["Required: the order has no shipping address."]})
    name = _text(address.get("name")) or " ".join(
        p for p in (_text(address.get("first_name")), _text(address.get("last_name"))) if p
    )
    ship_to = {
        "ship_to_name": name,
        "ship_to_company": _text(address.get("company")),
        "ship_to_address1": _text(address.get("address1")),
        "ship_to_address2": _text(address.get("address2")),
        "ship_to_city": _text(address.get("city")),
        "ship_to_state": _text(address.get("province_code")),
        "ship_to_zip": _text(address.get("zip")),
        "ship_to_country": _text(address.get("country_code")) or "US",
        "ship_to_phone": _text(address.get("phone") or payload.get("phone"))[:40],
        "ship_to_email": _text(payload.get("email") or payload.get("contact_email")),
    }
    items = payload.get("line_items")
    if not isinstance(items, list) or not items:
        raise ValidationError({"line_items": ["Required: the order has no line items."]})
    lines, errors = [], {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"line_items.{i}"] = ["Expected an object."]
            continue
        if item.get("requires_shipping") is False:
            continue  # gift cards, digital goods, services: nothing for the warehouse
        sku = _text(item.get("sku"))
        quantity = item.get("quantity")
        if not sku:
            errors[f"line_items.{i}.sku"] = ["A line that ships needs a SKU (set it on the Shopify variant)."]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            errors[f"line_items.{i}.quantity"] = ["Must be a positive whole number."]
        lines.append({"sku": sku, "quantity": quantity, "unit_price": item.get("price") or None})
    if errors:
        raise ValidationError(errors)
    if not lines:
        return None
    shipping_lines = payload.get("shipping_lines") or []
    if not isinstance(shipping_lines, list):
        raise ValidationError({"shipping_lines": ["Expected a list."]})
    tags = [t.strip() for t in _text(payload.get("tags")).split(",") if t.strip()][:50]
    carrier = next(
        (_text(s.get("code") or s.get("title")) for s in shipping_lines if isinstance(s, dict)), ""
    )
    return {
        "external_reference": reference[:100],
        "ship_to": ship_to,
        "lines": lines,
        "service_level": service_level_for([s for s in shipping_lines if isinstance(s, dict)]),
        "carrier_service": carrier[:64],
        "tags": tags,
        "notes": _text(payload.get("note")),
        "currency": (_text(payload.get("currency")) or "USD")[:3].upper(),
    }


# Errors of the service named as the payload names them.
_PAYLOAD_FIELDS = {
    "ship_to_name": "shipping_address.name",
    "ship_to_company": "shipping_address.company",
    "ship_to_address1": "shipping_address.address1",
    "ship_to_address2": "shipping_address.address2",
    "ship_to_city": "shipping_address.city",
    "ship_to_state": "shipping_address.province_code",
    "ship_to_zip": "shipping_address.zip",
    "ship_to_country": "shipping_address.country_code",
    "ship_to_phone": "shipping_address.phone",
    "ship_to_email": "email",
    "external_reference": "name",
}


def _payload_field(name: str) -> str:
    if name.startswith("lines."):
        return "line_items." + name.removeprefix("lines.").replace(".unit_price", ".price")
    return _PAYLOAD_FIELDS.get(name, name)


def _invalid(exc: ValidationError) -> JsonResponse:
    fields: dict[str, list[str]] = {}
    for name, messages in exc.message_dict.items():
        fields.setdefault(_payload_field(name), []).extend(messages)
    first, messages = next(iter(fields.items()))
    return JsonResponse(error_body("invalid", f"Invalid order. {first}: {messages[0]}", fields), status=400)


def receive_order(connection: ShopifyConnection, payload: Any) -> tuple[str, Order | None]:
    """Create the order of one delivery: ("created" | "duplicate" | "ignored", the order)."""
    fields = parse_order(payload)
    if fields is None:
        return "ignored", None
    actor = Actor.system(f"Shopify {connection.shop_domain}")
    with scope(client=connection.client_id):
        client = Client.objects.get(pk=connection.client_id)
        try:
            with transaction.atomic():
                order = services.order_create(actor=actor, client=client, channel=Channel.SHOPIFY, **fields)
        except services.DuplicateOrder as exc:
            return "duplicate", exc.existing
        except IntegrityError:
            # The same order delivered twice at once: the other delivery created it.
            existing = Order.objects.get(
                client=client, channel=Channel.SHOPIFY, external_reference=fields["external_reference"]
            )
            return "duplicate", existing
    return "created", order


@csrf_exempt
@require_POST
def orders_create_webhook(request: HttpRequest, token: str) -> JsonResponse:
    """``POST /webhooks/shopify/<token>/orders-create/``: Shopify's ``orders/create`` webhook."""
    body = request.body
    connection = ShopifyConnection.all_objects.filter(token=token).first()
    if not verify(connection, body, request.headers.get(HMAC_HEADER, "")):
        return json_error("unauthorized", "Unknown endpoint or bad signature.", 401)
    topic = request.headers.get(TOPIC_HEADER, "orders/create")
    if topic != "orders/create":
        return JsonResponse({"status": "ignored", "reason": f"Topic {topic} is not handled here."})
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return json_error("invalid", "The body is not JSON.", 400)
    try:
        outcome, order = receive_order(connection, payload)
    except ValidationError as exc:
        logger.warning("Shopify order rejected for %s: %s", connection.shop_domain, exc.message_dict)
        return _invalid(exc)
    answer = {"status": outcome, "webhook_id": request.headers.get(WEBHOOK_ID_HEADER, "")}
    if order is not None:
        answer |= {"id": order.pk, "number": order.number, "order_status": order.status}
    return JsonResponse(answer, status=201 if outcome == "created" else 200)
