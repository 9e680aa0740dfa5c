"""Forms of the inventory pages. They only parse and validate input: every write is a service call."""

from __future__ import annotations

import re

from django import forms
from django.forms import formset_factory

from . import services
from .enums import ASNStatus, LocationType, MoveReason, ReceiptCondition
from .models import ASN, Item

DATE = forms.DateInput(attrs={"type": "date"})
SCAN = {"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false", "inputmode": "text"}


def split_codes(value: str) -> list[str]:
    """'A, B  C|D' -> ['A', 'B', 'C', 'D']."""
    return [code for code in re.split(r"[\s,;|]+", value or "") if code]


# --- lists -------------------------------------------------------------------------------------


class ItemFilterForm(forms.Form):
    q = forms.CharField(label="SKU or name", required=False)
    active = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All"), ("true", "Active"), ("false", "Inactive")]
    )


class BalanceFilterForm(forms.Form):
    view = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[("", "Each location and lot"), ("totals", "Totals per item per node")],
    )
    sku = forms.CharField(label="SKU", required=False)
    warehouse = forms.TypedChoiceField(label="Node", required=False, coerce=int, empty_value=None)
    location_type = forms.ChoiceField(
        label="Location type", required=False, choices=[("", "All"), *LocationType.choices]
    )
    available = forms.BooleanField(label="Available > 0", required=False)

    def __init__(self, *args, warehouses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].choices = [("", "All"), *((w.pk, w.code) for w in warehouses)]


class MoveFilterForm(forms.Form):
    sku = forms.CharField(label="SKU", required=False)
    reason = forms.ChoiceField(label="Reason", required=False, choices=[("", "All"), *MoveReason.choices])
    warehouse = forms.TypedChoiceField(label="Node", required=False, coerce=int, empty_value=None)
    since = forms.DateField(label="From", required=False, widget=DATE)
    until = forms.DateField(label="To", required=False, widget=DATE, help_text="Inclusive")

    def __init__(self, *args, warehouses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].choices = [("", "All"), *((w.pk, w.code) for w in warehouses)]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date is before the start date.")
        return data


OPEN_ASN = "open"


class ASNFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "All"), (OPEN_ASN, "Open (not closed or cancelled)"), *ASNStatus.choices],
    )
    client = forms.TypedChoiceField(label="Client", required=False, coerce=int, empty_value=None)
    warehouse = forms.TypedChoiceField(label="Node", required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(
        label="Sort",
        required=False,
        choices=[
            ("", "Newest first"),
            ("eta", "Soonest ETA"),
            ("waiting", "Most orders waiting"),
            ("value", "Most value waiting"),
        ],
    )

    ORDERINGS = {
        "": ("-created_at", "-pk"),
        "eta": ("eta", "pk"),
        "waiting": ("-waiting_orders", "-created_at", "-pk"),
        "value": ("-waiting_value", "-created_at", "-pk"),
    }

    def ordering(self) -> tuple[str, ...]:
        key = self.cleaned_data.get("sort", "") if self.is_valid() else ""
        return self.ORDERINGS.get(key or "", self.ORDERINGS[""])

    def __init__(self, *args, clients=None, warehouses=None, **kwargs):
        super().__init__(*args, **kwargs)
        if clients is None:
            del self.fields["client"]
        else:
            self.fields["client"].choices = [("", "All"), *((c.pk, c.name) for c in clients)]
        if warehouses is None:
            del self.fields["warehouse"]
        else:
            self.fields["warehouse"].choices = [("", "All"), *((w.pk, w.code) for w in warehouses)]


class ClientFilterForm(forms.Form):
    client = forms.TypedChoiceField(label="Client", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].choices = [("", "All"), *((c.pk, c.name) for c in clients)]


# --- items -------------------------------------------------------------------------------------

ITEM_FORM_FIELDS = ("sku", *(f for f in services.ITEM_FIELDS if f != "active"))
BARCODE_FIELDS = {"upc": "upc", "ean": "ean", "scancodes": "scancode"}


class ItemForm(forms.Form):
    """The item's own fields come from the model (labels, limits, validators)."""

    upc = forms.CharField(label="UPC", required=False, help_text="One or more, separated by spaces or commas")
    ean = forms.CharField(label="EAN", required=False)
    scancodes = forms.CharField(label="Scan codes", required=False)
    is_kit = forms.BooleanField(
        label="This is a kit (sold as one SKU, picked as its components)", required=False
    )
    components = forms.CharField(
        label="Kit components",
        required=False,
        help_text="SKU:quantity pairs separated by semicolons, e.g. MUG-01:1; SPOON-02:2",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model_fields = forms.fields_for_model(Item, fields=ITEM_FORM_FIELDS)
        # "us" is fine here: it is upper-cased below and the service validates the result.
        model_fields["country_of_origin"].validators = []
        model_fields["reorder_point"].required = False
        model_fields["description"].widget.attrs["rows"] = 2
        self.fields = {**model_fields, **self.fields}

    def clean_components(self) -> list[dict]:
        parts = []
        for part in filter(None, (p.strip() for p in self.cleaned_data["components"].split(";"))):
            sku, _, quantity = part.partition(":")
            quantity = quantity.strip() or "1"
            if not quantity.isdigit() or int(quantity) < 1:
                raise forms.ValidationError(f"“{part}”: give the quantity as a whole number, e.g. {sku}:2.")
            parts.append({"sku": sku.strip(), "quantity": int(quantity)})
        return parts

    def service_kwargs(self) -> tuple[dict, list[str]]:
        """The arguments of ``services.item_create`` and, by barcode index, the field each came from."""
        data = dict(self.cleaned_data)
        barcodes, origin = [], []
        for field, kind in BARCODE_FIELDS.items():
            for code in split_codes(data.pop(field, "")):
                barcodes.append({"code": code, "kind": kind})
                origin.append(field)
        kwargs = {k: v for k, v in data.items() if k in ITEM_FORM_FIELDS}
        kwargs.update(barcodes=barcodes, components=data["components"], is_kit=data["is_kit"])
        kwargs["hs_code"] = kwargs.get("hs_code") or ""
        kwargs["country_of_origin"] = (kwargs.get("country_of_origin") or "").upper()
        kwargs["reorder_point"] = kwargs.get("reorder_point") or 0
        return kwargs, origin


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file", required=False, widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"})
    )
    dry_run = forms.BooleanField(label="Validate only (import nothing)", required=False, initial=True)
    content = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if not data.get("file") and not data.get("content"):
            self.add_error("file", "Choose a CSV file.")
        return data


# --- ASNs --------------------------------------------------------------------------------------

ASN_FORM_FIELDS = (
    "reference",
    "po_reference",
    "sender",
    "carrier",
    "tracking_number",
    "bol_number",
    "container_number",
    "eta",
    "cartons",
    "pallets",
    "notes",
)


class ASNForm(forms.Form):
    warehouse = forms.ModelChoiceField(label="Node", queryset=None, empty_label=None)
    submit = forms.BooleanField(
        label="Submit to the node now (leave unticked to keep a draft)", required=False, initial=True
    )

    def __init__(self, *args, warehouses, **kwargs):
        super().__init__(*args, **kwargs)
        model_fields = forms.fields_for_model(ASN, fields=ASN_FORM_FIELDS, widgets={"eta": DATE})
        model_fields["notes"].widget = forms.Textarea(attrs={"rows": 2})
        self.fields = {"warehouse": self.fields["warehouse"], **model_fields, "submit": self.fields["submit"]}
        self.fields["warehouse"].queryset = warehouses

    def header(self) -> dict:
        data = self.cleaned_data
        return {f: data[f] for f in ASN_FORM_FIELDS}


class ASNLineForm(forms.Form):
    sku = forms.CharField(label="SKU or barcode", max_length=64)
    expected_quantity = forms.IntegerField(label="Expected units", min_value=1)
    lot_code = forms.CharField(label="Lot", max_length=64, required=False)
    expiry_date = forms.DateField(label="Expiry", required=False, widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # the table's column headers are the visible labels
            field.widget.attrs["aria-label"] = field.label


ASNLineFormSet = formset_factory(ASNLineForm, extra=3, max_num=500, absolute_max=500)


# --- the floor ---------------------------------------------------------------------------------


class DockForm(forms.Form):
    code = forms.CharField(
        label="ASN number, reference, tracking or BOL",
        max_length=100,
        widget=forms.TextInput(attrs={**SCAN, "autofocus": True, "placeholder": "Scan or type"}),
    )


class ItemScanForm(forms.Form):
    """An item scanned on the floor, and how many units (receiving, the pack station)."""

    code = forms.CharField(
        label="Barcode or SKU",
        max_length=64,
        widget=forms.TextInput(attrs={**SCAN, "autofocus": True, "placeholder": "Scan an item"}),
    )
    quantity = forms.IntegerField(
        label="Quantity", min_value=1, initial=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )


class ReceiveForm(ItemScanForm):
    condition = forms.ChoiceField(
        label="Condition",
        choices=ReceiptCondition.choices,
        initial=ReceiptCondition.GOOD,
        widget=forms.RadioSelect,
    )
    lot_code = forms.CharField(label="Lot", max_length=64, required=False, widget=forms.TextInput(attrs=SCAN))
    expiry_date = forms.DateField(label="Expiry", required=False, widget=DATE)
    session = forms.CharField(
        label="Session",
        max_length=64,
        required=False,
        help_text="Your device or shift, e.g. dock 2 / morning",
    )


class PutawayForm(forms.Form):
    location = forms.CharField(
        label="Location",
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={**SCAN, "placeholder": "Scan a bin"}),
    )
    quantity = forms.IntegerField(
        label="Units", min_value=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )


class CountEntryForm(forms.Form):
    counted_quantity = forms.IntegerField(
        label="Counted", min_value=0, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )


class FoundItemForm(forms.Form):
    location = forms.CharField(label="Location", max_length=40, widget=forms.TextInput(attrs=SCAN))
    code = forms.CharField(label="Barcode or SKU", max_length=64, widget=forms.TextInput(attrs=SCAN))
    counted_quantity = forms.IntegerField(
        label="Units counted", min_value=0, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    lot_code = forms.CharField(label="Lot", max_length=64, required=False)
    client = forms.TypedChoiceField(
        label="Client",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="When two brands share the code",
    )

    def __init__(self, *args, clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        clients = list(clients)
        if len(clients) > 1:
            self.fields["client"].choices = [("", "—"), *((c.pk, c.name) for c in clients)]
        else:
            del self.fields["client"]


class CountCreateForm(forms.Form):
    """Start a count of the bins whose code starts with a prefix, or of one item everywhere at a node."""

    warehouse = forms.TypedChoiceField(label="Node", coerce=int)
    bins = forms.CharField(
        label="Bins starting with", max_length=40, required=False, help_text="e.g. A-01 for aisle 1 of zone A"
    )
    code = forms.CharField(label="or the item (SKU or barcode)", max_length=64, required=False)
    reason = forms.CharField(
        label="Reason", max_length=200, required=False, help_text="Schedule, short pick, ..."
    )

    def __init__(self, *args, warehouses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].choices = [(w.pk, f"{w.code} · {w.name}") for w in warehouses]

    def clean(self):
        data = super().clean()
        if bool((data.get("bins") or "").strip()) == bool((data.get("code") or "").strip()):
            raise forms.ValidationError("Give a bin prefix or an item, not both.")
        return data
