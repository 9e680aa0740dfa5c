"""Order errors: recorded by staff against shipped orders only (400 naming ``order`` otherwise),
audited, listed and filtered through the API, and the console page."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import AuditEvent
from orders.models import Order
from reporting.models import OrderError
from reporting.services import order_error_delete, order_error_record
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment

pytestmark = pytest.mark.django_db
URL = "/api/v1/order-errors/"


@pytest.fixture
def orders(db):
    """A shipped order and a received one of one brand, and a shipped order of another."""
    from shipments.services.shipping import buy_label, ship_out

    world = make_world(regions=("nj",))
    other = make_world(regions=("nj",))
    make_carriers()
    out = {}
    for name, w in (("shipped", world), ("foreign", other)):
        item = make_item(w.client)
        stock(w.client, w.nj, item, 5)
        order = make_order(w.client, [(item, 1)], ship_to=SHIP_TO_NJ)
        ship_out(actor=SYSTEM, shipment=buy_label(actor=SYSTEM, shipment=packed_shipment(order, w.nj)))
        out[name] = Order.objects.get(pk=order.pk)
    out["received"] = make_order(world.client, [(make_item(world.client), 1)], ship_to=SHIP_TO_NJ)
    out["world"] = world
    return out


def test_staff_record_an_error_against_a_shipped_order_audited(orders):
    error = order_error_record(
        actor=SYSTEM, order=orders["shipped"], kind="wrong_label", note="label for 07030"
    )
    assert (error.client_id, error.kind, error.actor_label) == (
        orders["shipped"].client_id,
        "wrong_label",
        "system: tests",
    )
    audit = AuditEvent.objects.get(action="order_error.recorded")
    assert audit.client_id == error.client_id
    order_error_delete(actor=SYSTEM, error=error)
    assert not OrderError.objects.exists()
    assert AuditEvent.objects.filter(action="order_error.deleted").count() == 1


def test_an_unshipped_order_is_refused_naming_order(orders):
    with pytest.raises(ValidationError) as exc:
        order_error_record(actor=SYSTEM, order=orders["received"], kind="mis_pick")
    assert list(exc.value.message_dict) == ["order"]
    with pytest.raises(ValidationError) as exc:
        order_error_record(actor=SYSTEM, order=orders["shipped"], kind="lost")
    assert list(exc.value.message_dict) == ["kind"]
    assert not OrderError.objects.exists()


def test_a_client_may_not_record_errors(orders):
    user = UserFactory(role=Role.CLIENT_ADMIN, client=orders["world"].client)
    with pytest.raises(PermissionDenied):
        order_error_record(actor=Actor.for_user(user), order=orders["shipped"], kind="mis_pick")


def test_the_api_records_lists_filters_and_deletes(orders, operator_admin, session_api):
    api = session_api(operator_admin)
    created = api.post(
        URL, {"order": orders["shipped"].pk, "kind": "mis_pick", "note": "blue not red"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["order_number"] == orders["shipped"].number
    order_error_record(actor=SYSTEM, order=orders["foreign"], kind="damaged")
    assert len(api.get(URL).json()["results"]) == 2
    listed = api.get(URL, {"client": orders["shipped"].client_id, "kind": "mis_pick"}).json()["results"]
    assert [e["id"] for e in listed] == [created.json()["id"]]
    assert api.get(URL, {"order": orders["foreign"].pk}).json()["results"][0]["kind"] == "damaged"
    refused = api.post(URL, {"order": orders["received"].pk, "kind": "mis_pick"}, format="json")
    assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == ["order"]
    assert api.delete(f"{URL}{created.json()['id']}/").status_code == 204
    assert OrderError.objects.count() == 1


def test_a_client_sees_its_own_errors_only_and_cannot_record(orders, session_api):
    own = order_error_record(actor=SYSTEM, order=orders["shipped"], kind="mis_pick")
    foreign = order_error_record(actor=SYSTEM, order=orders["foreign"], kind="mis_pick")
    api = session_api(UserFactory(role=Role.CLIENT_USER, client=orders["world"].client))
    assert [e["id"] for e in api.get(URL).json()["results"]] == [own.pk]
    assert api.get(f"{URL}{foreign.pk}/").status_code == 404
    assert (
        api.post(URL, {"order": orders["shipped"].pk, "kind": "mis_pick"}, format="json").status_code == 403
    )


def test_staff_naming_another_clients_order_get_a_400_like_a_missing_one(
    orders, account_manager, session_api
):
    orders["world"].client.account_managers.add(account_manager)
    api = session_api(account_manager)
    foreign = api.post(URL, {"order": orders["foreign"].pk, "kind": "mis_pick"}, format="json")
    missing = api.post(URL, {"order": 99999999, "kind": "mis_pick"}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert list(foreign.json()["error"]["fields"]) == ["order"]


@pytest.mark.parametrize("page_size", [1, 20])
def test_the_list_query_count_is_constant(
    orders, operator_admin, session_api, django_assert_max_num_queries, page_size
):
    for _ in range(3):
        order_error_record(actor=SYSTEM, order=orders["shipped"], kind="mis_pick")
    api = session_api(operator_admin)
    with django_assert_max_num_queries(8):
        assert api.get(URL, {"page_size": page_size}).status_code == 200


def test_the_console_page_lists_and_records(orders, operator_admin, client):
    client.force_login(operator_admin)
    url = reverse("console-order-errors", kwargs={"order_id": orders["shipped"].pk})
    page = client.get(url)
    assert page.status_code == 200 and b"No errors recorded" in page.content
    response = client.post(url, {"kind": "wrong_quantity", "note": "2 not 1"})
    assert response.status_code == 302
    page = client.get(url)
    assert b"Wrong quantity" in page.content and b"2 not 1" in page.content
    error = OrderError.objects.get()
    assert client.post(url, {"delete": error.pk}).status_code == 302
    assert not OrderError.objects.exists()
    # an order not shipped yet: the page says why there is no form; a forced POST is refused
    unshipped = reverse("console-order-errors", kwargs={"order_id": orders["received"].pk})
    assert b"Record an error" not in client.get(unshipped).content
    refused = client.post(unshipped, {"kind": "mis_pick"})
    assert refused.status_code == 400 and not OrderError.objects.exists()


def test_the_console_page_hides_other_clients_orders(orders, account_manager, client):
    orders["world"].client.account_managers.add(account_manager)
    client.force_login(account_manager)
    assert (
        client.get(reverse("console-order-errors", kwargs={"order_id": orders["foreign"].pk})).status_code
        == 404
    )
