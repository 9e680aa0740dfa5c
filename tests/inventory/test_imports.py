"""CSV imports of items and ASNs through the API: the whole file is checked first; a good file is
written in one transaction; any bad row rejects the file with every bad row, column and reason."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from inventory.models import ASN, ASNEvent, ASNLine, Item, ItemBarcode, KitComponent
from tests.accounts.factories import WarehouseFactory
from tests.conftest import bearer
from tests.inventory.factories import make_asn, make_item

ITEMS_IMPORT = "/api/v1/items/import/"
ASNS_IMPORT = "/api/v1/asns/import/"


def upload(api, path: str, text: str, **form):
    file = SimpleUploadedFile("import.csv", text.encode(), content_type="text/csv")
    return api.post(path, {"file": file, **form}, format="multipart")


def written(client) -> tuple:
    """Everything an import may write for a client (audit included)."""
    return (
        sorted(Item.objects.filter(client=client).values_list("sku", flat=True)),
        ItemBarcode.objects.filter(client=client).count(),
        KitComponent.objects.filter(client=client).count(),
        ASN.objects.filter(client=client).count(),
        ASNLine.objects.filter(client=client).count(),
        ASNEvent.objects.filter(client=client).count(),
        AuditEvent.objects.filter(client=client).count(),
    )


def problems(response) -> set[tuple[int, str]]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    assert "nothing was imported" in error["message"]
    return {(row["row"], row["column"]) for row in error["rows"]}


# --- items -------------------------------------------------------------------------------------

GOOD_ITEMS = """sku,name,upc,ean,weight_lb,length_in,case_quantity,lot_tracked,hazmat,country_of_origin,kit_components
TEE-S,Tee S,000000000017,,0.3,10,24,no,,PT,
TEE-M,Tee M,000000000024|000000000031,4006381333931,0.35,10,24,,,pt,
SERUM,Serum,,,0.2,,,yes,yes,FR,
GIFT,Gift set,,,,,,,,,TEE-S:2;SERUM:1
"""


def test_item_import_dry_run_counts_and_writes_nothing(tenant_a):
    before = written(tenant_a.client)
    response = upload(tenant_a.api, ITEMS_IMPORT, GOOD_ITEMS, dry_run="true")
    assert response.status_code == 200, response.content
    assert response.json() == {"dry_run": True, "valid": True, "rows": 4, "created": 0, "errors": []}
    assert written(tenant_a.client) == before


def test_item_import_creates_items_barcodes_and_kits(tenant_a):
    response = upload(tenant_a.api, ITEMS_IMPORT, GOOD_ITEMS)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 4 and response.json()["valid"] is True
    items = {i.sku: i for i in Item.objects.filter(client=tenant_a.client)}
    assert set(items) == {"TEE-S", "TEE-M", "SERUM", "GIFT"}
    assert sorted(items["TEE-M"].barcodes.values_list("code", "kind")) == [
        ("000000000024", "upc"),
        ("000000000031", "upc"),
        ("4006381333931", "ean"),
    ]
    assert items["TEE-M"].country_of_origin == "PT" and items["TEE-M"].case_quantity == 24
    assert items["SERUM"].lot_tracked and items["SERUM"].hazmat and not items["TEE-S"].lot_tracked
    assert items["GIFT"].is_kit
    assert sorted(items["GIFT"].components.values_list("component__sku", "quantity")) == [
        ("SERUM", 1),
        ("TEE-S", 2),
    ]
    # Read back through the API as well.
    found = tenant_a.api.get("/api/v1/items/", {"barcode": "4006381333931"}).json()["results"]
    assert [i["sku"] for i in found] == ["TEE-M"]


def test_staff_import_items_for_a_named_client(tenant_a, operator_admin, session_api):
    api = session_api(operator_admin)
    unnamed = upload(api, ITEMS_IMPORT, GOOD_ITEMS)
    assert unnamed.status_code == 400 and "client" in unnamed.json()["error"]["fields"]
    named = upload(api, ITEMS_IMPORT, GOOD_ITEMS, client=tenant_a.client.pk)
    assert named.status_code == 201, named.content
    assert Item.objects.filter(client=tenant_a.client).count() == 4


def test_item_file_with_bad_rows_names_every_one_and_writes_nothing(tenant_a):
    make_item(tenant_a.client, "OLD-1", barcode="999")
    text = """sku,name,upc,weight_lb,case_quantity,lot_tracked,kit_components
GOOD-1,Fine,,1.0,6,no,
OLD-1,Exists in the catalog,,,,,
DUP,First,,,,,
DUP,Second,,,,,
HEAVY,Weight is a word,,heavy,,,
CASE,Case of zero,,,0,,
FLAG,Bad flag,,,,maybe,
KIT-1,Kit of nothing,,,,,GOOD-1:1;GHOST:2;SPOOK:1
KIT-2,Bad quantity,,,,,GOOD-1:many
CODE,Barcode taken,999,,,,
,No SKU,,,,,
"""
    before = written(tenant_a.client)
    response = upload(tenant_a.api, ITEMS_IMPORT, text)
    assert problems(response) == {
        (3, "sku"),  # OLD-1 exists
        (5, "sku"),  # DUP again (row 4 is the first)
        (6, "weight_lb"),
        (7, "case_quantity"),
        (8, "lot_tracked"),
        (9, "kit_components"),  # GHOST
        (10, "kit_components"),
        (11, "upc"),
        (12, "sku"),
    }
    rows = response.json()["error"]["rows"]
    assert any("row 4" in r["message"] for r in rows if r["row"] == 5)
    assert any("GHOST" in r["message"] for r in rows if r["row"] == 9)
    assert len(response.json()["error"]["fields"]["row 9.kit_components"]) == 2  # GHOST and SPOOK
    assert response.json()["error"]["fields"]["row 6.weight_lb"]
    assert written(tenant_a.client) == before


def test_item_file_missing_a_required_column_is_refused(tenant_a):
    before = written(tenant_a.client)
    response = upload(tenant_a.api, ITEMS_IMPORT, "sku,colour\nA-1,red\n")
    assert problems(response) == {(1, "name"), (1, "colour")}
    assert written(tenant_a.client) == before


def test_an_empty_or_non_csv_upload_is_a_400(tenant_a):
    empty = upload(tenant_a.api, ITEMS_IMPORT, "")
    assert empty.status_code == 400 and "file" in empty.json()["error"]["fields"]
    assert problems(upload(tenant_a.api, ITEMS_IMPORT, "\n")) == {(1, "file")}
    assert problems(upload(tenant_a.api, ITEMS_IMPORT, "sku,name\n")) == {(2, "file")}
    binary = SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad", content_type="text/csv")
    response = tenant_a.api.post(ITEMS_IMPORT, {"file": binary}, format="multipart")
    assert response.status_code == 400
    no_file = tenant_a.api.post(ITEMS_IMPORT, {"dry_run": "true"}, format="multipart")
    assert no_file.status_code == 400 and "file" in no_file.json()["error"]["fields"]


def test_a_read_only_key_cannot_import(tenant_a):
    response = upload(bearer(tenant_a.ro_secret), ITEMS_IMPORT, GOOD_ITEMS)
    assert response.status_code == 403
    assert not Item.objects.filter(client=tenant_a.client).exists()


# --- ASNs --------------------------------------------------------------------------------------


def asn_file(code: str, rows: list[str]) -> str:
    header = "reference,warehouse,sku,expected_quantity,po_reference,carrier,eta,cartons,lot_code,expiry_date"
    return "\n".join([header, *(r.replace("{wh}", code) for r in rows)]) + "\n"


def catalog(tenant) -> None:
    make_item(tenant.client, "TEE", barcode="0001")
    make_item(tenant.client, "CAP", barcode="0002")
    make_item(tenant.client, "SERUM", lot_tracked=True)


GOOD_ASN_ROWS = [
    "PO-1,{wh},TEE,10,4500001,UPS,2026-08-01,2,,",
    "PO-1,{wh},0002,5,4500001,,,,,",  # header columns may be left blank on later rows
    "PO-1,{wh},SERUM,6,,,,,L-77,2027-05-31",
    "PO-2,{wh},CAP,3,4500002,FedEx,2026-08-03,1,,",
]


def test_asn_import_dry_run_then_real_run(tenant_a):
    catalog(tenant_a)
    text = asn_file(tenant_a.warehouse.code, GOOD_ASN_ROWS)
    before = written(tenant_a.client)
    dry = upload(tenant_a.api, ASNS_IMPORT, text, dry_run="true")
    assert dry.status_code == 200, dry.content
    assert dry.json() == {"dry_run": True, "valid": True, "rows": 4, "created": 0, "errors": []}
    assert written(tenant_a.client) == before

    real = upload(tenant_a.api, ASNS_IMPORT, text)
    assert real.status_code == 201, real.content
    assert real.json()["created"] == 2
    first = ASN.objects.get(client=tenant_a.client, reference="PO-1")
    assert (first.status, first.carrier, first.eta.isoformat(), first.cartons) == (
        "submitted",
        "UPS",
        "2026-08-01",
        2,
    )
    lines = sorted(first.lines.values_list("item__sku", "expected_quantity", "lot_code"))
    assert lines == [("CAP", 5, ""), ("SERUM", 6, "L-77"), ("TEE", 10, "")]
    assert first.lines.get(item__sku="SERUM").expiry_date.isoformat() == "2027-05-31"
    listed = tenant_a.api.get("/api/v1/asns/", {"reference": "PO-2"}).json()["results"]
    assert [(a["status"], a["expected_units"]) for a in listed] == [("submitted", 3)]


def test_asn_file_with_bad_rows_names_every_one_and_writes_nothing(tenant_a, tenant_b):
    catalog(tenant_a)
    make_item(tenant_b.client, "B-ONLY")
    make_asn(tenant_a.client, tenant_a.warehouse, [(Item.objects.get(sku="TEE"), 1)], reference="TAKEN")
    foreign = WarehouseFactory()  # a node tenant A does not use
    rows = [
        "PO-9,{wh},NOPE,1,,,,,,",  # 2: unknown SKU
        "PO-9,{wh},B-ONLY,1,,,,,,",  # 3: another brand's SKU is unknown too
        "PO-9,{wh},TEE,ten,,,,,,",  # 4: bad number
        "PO-9,{wh},CAP,0,,,,,,",  # 5: zero
        "PO-8,{wh},TEE,1,,,next week,,,",  # 6: bad date (the ASN's ETA)
        "PO-8,{wh},CAP,1,,,,,,someday",  # 7: bad expiry date
        f"PO-7,{foreign.code},TEE,1,,,,,,",  # 8: a node the brand does not use
        "TAKEN,{wh},TEE,1,,,,,,",  # 9: reference exists
        "PO-6,{wh},TEE,1,,,,lots,,",  # 10: bad cartons
        "PO-5,{wh},,1,,,,,,",  # 11: no SKU
    ]
    before = written(tenant_a.client)
    response = upload(tenant_a.api, ASNS_IMPORT, asn_file(tenant_a.warehouse.code, rows))
    assert problems(response) == {
        (2, "sku"),
        (3, "sku"),
        (4, "expected_quantity"),
        (5, "expected_quantity"),
        (6, "eta"),
        (7, "expiry_date"),
        (8, "warehouse"),
        (9, "reference"),
        (10, "cartons"),
        (11, "sku"),
    }
    assert written(tenant_a.client) == before


def test_conflicting_header_values_within_one_asn_name_both_rows(tenant_a):
    catalog(tenant_a)
    rows = [
        "PO-1,{wh},TEE,1,4500001,UPS,2026-08-01,,,",
        "PO-1,{wh},CAP,1,4500001,UPS,2026-08-01,,,",
        "PO-1,{wh},SERUM,1,4500001,FedEx,2026-08-02,,L1,",
    ]
    before = written(tenant_a.client)
    response = upload(tenant_a.api, ASNS_IMPORT, asn_file(tenant_a.warehouse.code, rows))
    assert problems(response) == {(4, "carrier"), (4, "eta")}
    for row in response.json()["error"]["rows"]:
        assert "row 2" in row["message"] and "PO-1" in row["message"]
    assert written(tenant_a.client) == before


def test_asn_file_missing_a_required_column_is_refused(tenant_a):
    catalog(tenant_a)
    response = upload(tenant_a.api, ASNS_IMPORT, "reference,sku,expected_quantity\nPO-1,TEE,1\n")
    assert problems(response) == {(1, "warehouse")}
    assert not ASN.objects.filter(client=tenant_a.client).exists()


def test_skus_and_barcodes_share_one_namespace_in_an_item_file(tenant_a):
    """A scan must name one item: a barcode may not be another item's SKU, nor the reverse."""
    make_item(tenant_a.client, "CAT-1", barcode="CODE-1")
    text = """sku,name,upc,scancode,kit_components
CODE-1,SKU that is a catalog barcode,,,
NEW-1,Barcode that is a catalog SKU,CAT-1,,
NEW-2,Barcode that is a SKU in the file,NEW-3,,
NEW-3,A SKU that is a barcode in the file,,,
NEW-4,Same code twice on a row,444,444,
NEW-5,Own SKU as its scan code,,NEW-5,
KIT,Component listed twice,,,NEW-3:1;NEW-3:2
"""
    before = written(tenant_a.client)
    response = upload(tenant_a.api, ITEMS_IMPORT, text)
    assert problems(response) == {
        (2, "sku"),
        (3, "upc"),
        (4, "upc"),  # NEW-3 is a SKU on row 5 ...
        (5, "sku"),  # ... and a barcode on row 4: both rows are named
        (6, "scancode"),
        (8, "kit_components"),
    }
    assert written(tenant_a.client) == before


def test_an_overlong_barcode_is_a_row_error_not_a_crash(tenant_a):
    response = upload(tenant_a.api, ITEMS_IMPORT, f"sku,name,ean\nLONG,Long code,{'9' * 65}\n")
    assert problems(response) == {(2, "ean")}


def test_asn_header_may_be_given_on_any_one_row(tenant_a):
    catalog(tenant_a)
    rows = [
        "PO-1,{wh},TEE,1,,,,,,",
        "PO-1,{wh},CAP,2,4500001,DHL,2026-09-01,3,,",
    ]
    response = upload(tenant_a.api, ASNS_IMPORT, asn_file(tenant_a.warehouse.code.lower(), rows))
    assert response.status_code == 201, response.content
    asn = ASN.objects.get(client=tenant_a.client, reference="PO-1")
    assert (asn.po_reference, asn.carrier, asn.eta.isoformat(), asn.cartons) == (
        "4500001",
        "DHL",
        "2026-09-01",
        3,
    )


def test_asn_rows_are_checked_as_the_service_would(tenant_a):
    """What asn_create would refuse is reported per row, so a dry run that passes also writes."""
    catalog(tenant_a)
    Item.objects.filter(sku="SERUM").update(expiry_tracked=True)
    rows = [
        "PO-1,{wh},SERUM,1,,,,,,2027-01-01",  # a lot-tracked item with an expiry but no lot
        "PO-1,{wh},SERUM,1,,,,,L-1,",  # and an expiry-tracked one with a lot but no expiry
        f"{'R' * 65},{{wh}},TEE,1,,,,,,",  # reference too long
        "PO-3,{wh},TEE,1,,,,,{lot},".replace("{lot}", "L" * 65),
    ]
    dry = upload(tenant_a.api, ASNS_IMPORT, asn_file(tenant_a.warehouse.code, rows), dry_run="true")
    assert problems(dry) == {(2, "lot_code"), (3, "expiry_date"), (4, "reference"), (5, "lot_code")}
    assert not ASN.objects.filter(client=tenant_a.client).exists()
