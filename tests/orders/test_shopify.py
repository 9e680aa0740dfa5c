"""Shopify intake: the connection API (secret write-only) and the ``orders/create`` webhook, fed a
payload in Shopify's documented shape and signed as Shopify signs it."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json

import pytest

from orders.enums import Channel, HoldKind, OrderStatus, ServiceLevel
from orders.models import Order, OrderHold, ShopifyConnection
from orders.shopify import service_level_for
from tests.inventory.factories import make_item

CONNECTIONS = "/api/v1/shopify-connections/"
SECRET = "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"

# Shopify's orders/create webhook body (REST Admin API Order resource), trimmed of nothing we rely on.
ORDER_PAYLOAD = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "app_id": None,
    "browser_ip": "216.191.105.146",
    "buyer_accepts_marketing": True,
    "cancel_reason": None,
    "cancelled_at": None,
    "cart_token": None,
    "checkout_id": 901414060,
    "checkout_token": "bd5a8aa1ecd019dd3520ff791ee3a24c",
    "confirmation_number": "X7RPLN5KH",
    "confirmed": True,
    "contact_email": "jon@example.com",
    "created_at": "2026-11-20T16:15:47-05:00",
    "currency": "USD",
    "current_subtotal_price": "398.00",
    "current_total_price": "413.00",
    "customer_locale": "en",
    "email": "jon@example.com",
    "financial_status": "paid",
    "fulfillment_status": None,
    "landing_site": None,
    "name": "#1001",
    "note": "Please leave at the back door",
    "note_attributes": [{"name": "gift", "value": "no"}],
    "number": 1,
    "order_number": 1001,
    "order_status_url": "https://jsmith.myshopify.com/548380009/orders/123456abcd/authenticate?key=abcdefg",
    "payment_gateway_names": ["visa", "bogus"],
    "phone": "+557734881234",
    "presentment_currency": "USD",
    "processed_at": "2026-11-20T16:15:47-05:00",
    "source_name": "web",
    "subtotal_price": "398.00",
    "tags": "vip, repeat",
    "taxes_included": False,
    "test": False,
    "token": "123456abcd",
    "total_discounts": "0.00",
    "total_line_items_price": "398.00",
    "total_price": "413.00",
    "total_tax": "0.00",
    "total_weight": 1200,
    "updated_at": "2026-11-20T16:15:47-05:00",
    "billing_address": {
        "first_name": "Bob",
        "last_name": "Norman",
        "address1": "Chestnut Street 92",
        "city": "Louisville",
        "province": "Kentucky",
        "country": "United States",
        "zip": "40202",
        "province_code": "KY",
        "country_code": "US",
    },
    "customer": {
        "id": 207119551,
        "email": "jon@example.com",
        "first_name": "Bob",
        "last_name": "Norman",
        "state": "disabled",
    },
    "discount_codes": [],
    "fulfillments": [],
    "line_items": [
        {
            "id": 466157049,
            "admin_graphql_api_id": "gid://shopify/LineItem/466157049",
            "fulfillable_quantity": 2,
            "fulfillment_service": "manual",
            "fulfillment_status": None,
            "gift_card": False,
            "grams": 200,
            "name": "IPod Nano - 8gb - green",
            "price": "199.00",
            "product_exists": True,
            "product_id": 632910392,
            "properties": [{"name": "Custom Engraving Front", "value": "Happy Birthday"}],
            "quantity": 2,
            "requires_shipping": True,
            "sku": "IPOD2008GREEN",
            "taxable": True,
            "title": "IPod Nano - 8gb",
            "total_discount": "0.00",
            "variant_id": 39072856,
            "variant_inventory_management": "shopify",
            "variant_title": "green",
            "vendor": None,
            "tax_lines": [],
            "duties": [],
            "discount_allocations": [],
        },
        {
            "id": 518995019,
            "fulfillable_quantity": 1,
            "fulfillment_service": "manual",
            "gift_card": True,
            "grams": 0,
            "name": "Gift card - $50",
            "price": "50.00",
            "product_id": 632910393,
            "quantity": 1,
            "requires_shipping": False,
            "sku": "GIFTCARD-50",
            "title": "Gift card",
            "variant_id": 39072857,
        },
        {
            "id": 703073504,
            "fulfillable_quantity": 1,
            "fulfillment_service": "manual",
            "gift_card": False,
            "grams": 1000,
            "name": "Case - black",
            "price": "0.00",
            "product_id": 632910394,
            "quantity": 1,
            "requires_shipping": True,
            "sku": "CASE-BLACK",
            "title": "Case",
            "variant_id": 39072858,
        },
    ],
    "payment_terms": None,
    "refunds": [],
    "shipping_address": {
        "first_name": "Steve",
        "address1": "123 Shipping Street",
        "phone": "555-555-SHIP",
        "city": "Shippington",
        "zip": "40202",
        "province": "Kentucky",
        "country": "United States",
        "last_name": "Shipper",
        "address2": "Unit 4",
        "company": "Shipping Company",
        "latitude": None,
        "longitude": None,
        "name": "Steve Shipper",
        "country_code": "US",
        "province_code": "KY",
    },
    "shipping_lines": [
        {
            "id": 369256396,
            "carrier_identifier": None,
            "code": "Expedited Shipping",
            "discounted_price": "15.00",
            "price": "15.00",
            "source": "shopify",
            "title": "Expedited Shipping",
            "tax_lines": [],
            "discount_allocations": [],
        }
    ],
}


def sign(raw: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


@pytest.fixture
def connection(tenant_a) -> ShopifyConnection:
    return ShopifyConnection.objects.create(
        client=tenant_a.client, shop_domain="jsmith.myshopify.com", webhook_secret=SECRET
    )


def deliver(
    client, connection, payload=ORDER_PAYLOAD, *, secret=SECRET, webhook_id="b54557e4-bdd9-4b37", token=None
):
    raw = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/shopify/{token or connection.token}/orders-create/",
        data=raw,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=sign(raw, secret),
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_SHOP_DOMAIN="jsmith.myshopify.com",
        HTTP_X_SHOPIFY_WEBHOOK_ID=webhook_id,
    )


def test_a_valid_delivery_creates_the_order_with_mapped_lines_address_and_service_level(
    client, tenant_a, connection
):
    make_item(tenant_a.client, "IPOD2008GREEN")
    make_item(tenant_a.client, "CASE-BLACK")
    response = deliver(client, connection)
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.client == tenant_a.client
    assert (order.channel, order.external_reference) == (Channel.SHOPIFY, "#1001")
    assert order.service_level == ServiceLevel.EXPEDITED
    assert order.carrier_service == "Expedited Shipping"
    assert (order.ship_to_name, order.ship_to_company) == ("Steve Shipper", "Shipping Company")
    assert (order.ship_to_address1, order.ship_to_address2, order.ship_to_city) == (
        "123 Shipping Street",
        "Unit 4",
        "Shippington",
    )
    assert (order.ship_to_state, order.ship_to_zip, order.ship_to_country) == ("KY", "40202", "US")
    assert order.ship_to_email == "jon@example.com"
    assert order.notes == "Please leave at the back door" and order.tags == ["vip", "repeat"]
    # The gift card does not require shipping: skipped.
    assert sorted(order.lines.values_list("sku", "quantity")) == [("CASE-BLACK", 1), ("IPOD2008GREEN", 2)]
    assert str(order.lines.get(sku="IPOD2008GREEN").unit_price) == "199.0000"
    assert order.status == OrderStatus.RECEIVED and order.ship_by is not None
    assert order.events.get().actor_label == "system: Shopify jsmith.myshopify.com"


def test_the_same_delivery_twice_creates_one_order(client, tenant_a, connection):
    first = deliver(client, connection)
    assert first.status_code == 201
    again = deliver(client, connection)  # Shopify's retry: same webhook id
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["id"] == first.json()["id"]
    # The same order in another delivery (another webhook id) is still the same order.
    other = deliver(client, connection, webhook_id="another-id")
    assert other.status_code == 200 and other.json()["id"] == first.json()["id"]
    assert Order.objects.filter(client=tenant_a.client).count() == 1


def test_a_bad_signature_and_an_unknown_endpoint_are_the_same_401_and_write_nothing(
    client, tenant_a, connection
):
    bad = deliver(client, connection, secret="not-the-secret")
    unknown = deliver(client, connection, token="no-such-token")
    assert bad.status_code == unknown.status_code == 401
    assert bad.json() == unknown.json()
    raw = json.dumps(ORDER_PAYLOAD).encode()
    unsigned = client.post(
        f"/webhooks/shopify/{connection.token}/orders-create/", data=raw, content_type="application/json"
    )
    assert unsigned.status_code == 401
    # A paused connection refuses even good signatures.
    ShopifyConnection.objects.filter(pk=connection.pk).update(active=False)
    assert deliver(client, connection).status_code == 401
    assert not Order.objects.filter(client=tenant_a.client).exists()
    assert client.get(f"/webhooks/shopify/{connection.token}/orders-create/").status_code == 405


def test_unknown_sku_goes_on_an_exception_hold_naming_it(client, tenant_a, connection):
    make_item(tenant_a.client, "CASE-BLACK")
    response = deliver(client, connection)
    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == OrderStatus.ON_HOLD
    hold = OrderHold.objects.get(order=order)
    assert hold.kind == HoldKind.EXCEPTION and hold.reason == "Unknown SKU: IPOD2008GREEN"


def test_an_order_with_nothing_to_ship_is_acknowledged_and_ignored(client, tenant_a, connection):
    payload = copy.deepcopy(ORDER_PAYLOAD)
    for line in payload["line_items"]:
        line["requires_shipping"] = False
    response = deliver(client, connection, payload)
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert not Order.objects.filter(client=tenant_a.client).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("shipping_address"), "shipping_address"),
        (lambda p: p["shipping_address"].update(zip=""), "shipping_address.zip"),
        (lambda p: p["shipping_address"].update(address1=None), "shipping_address.address1"),
        (lambda p: p.update(line_items=[]), "line_items"),
        (lambda p: p["line_items"][2].update(sku=""), "line_items.2.sku"),
        (lambda p: p["line_items"][0].update(quantity=0), "line_items.0.quantity"),
        (lambda p: p.update(name="", id=None), "name"),
    ],
)
def test_a_payload_error_is_a_400_naming_the_field(client, tenant_a, connection, change, field):
    payload = copy.deepcopy(ORDER_PAYLOAD)
    change(payload)
    response = deliver(client, connection, payload)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Order.objects.filter(client=tenant_a.client).exists()


@pytest.mark.parametrize(
    ("title", "code", "level"),
    [
        ("Overnight Air", "", ServiceLevel.OVERNIGHT),
        ("Next Day", "NEXT_DAY", ServiceLevel.OVERNIGHT),
        ("UPS 2nd Day Air", "2 Day", ServiceLevel.TWO_DAY),
        ("Two-Day Shipping", "", ServiceLevel.TWO_DAY),
        ("Priority Mail", "", ServiceLevel.EXPEDITED),
        ("Express", "", ServiceLevel.EXPEDITED),
        ("Standard Shipping", "Standard", ServiceLevel.STANDARD),
        ("Free shipping", "", ServiceLevel.STANDARD),
    ],
)
def test_shipping_line_maps_to_a_service_level(title, code, level):
    assert service_level_for([{"title": title, "code": code}]) == level


# --- the connection API --------------------------------------------------------------------------


def test_brand_connects_a_store_and_the_secret_is_never_returned(tenant_a):
    response = tenant_a.api.post(
        CONNECTIONS, {"shop_domain": "Acme.myshopify.com", "webhook_secret": SECRET}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert SECRET not in response.content.decode()
    assert data["shop_domain"] == "acme.myshopify.com"
    assert data["webhook_secret_set"] is True and data["webhook_secret_hint"] == f"••••{SECRET[-4:]}"
    connection = ShopifyConnection.objects.get(client=tenant_a.client)
    assert connection.webhook_secret == SECRET
    assert data["webhook_url"].endswith(f"/webhooks/shopify/{connection.token}/orders-create/")
    assert data["webhook_url"].startswith("http")
    listed = tenant_a.api.get(CONNECTIONS).json()["results"]
    assert [c["id"] for c in listed] == [connection.pk] and SECRET not in json.dumps(listed)
    again = tenant_a.api.post(
        CONNECTIONS, {"shop_domain": "b.myshopify.com", "webhook_secret": "x"}, format="json"
    )
    assert again.status_code == 400 and "client" in again.json()["error"]["fields"]
    bad = tenant_a.api.patch(f"{CONNECTIONS}{connection.pk}/", {"shop_domain": "acme.com"}, format="json")
    assert bad.status_code == 400 and "shop_domain" in bad.json()["error"]["fields"]
    rotated = tenant_a.api.patch(
        f"{CONNECTIONS}{connection.pk}/", {"webhook_secret": "n" * 32}, format="json"
    )
    assert rotated.status_code == 200 and rotated.json()["webhook_secret_hint"] == "••••nnnn"
    connection.refresh_from_db()
    assert connection.webhook_secret == "n" * 32


def test_a_client_user_may_not_manage_the_connection(tenant_a, session_api, connection):
    user = session_api(tenant_a.user)
    assert user.get(CONNECTIONS).status_code == 403
    response = user.patch(f"{CONNECTIONS}{connection.pk}/", {"active": False}, format="json")
    assert response.status_code == 403
