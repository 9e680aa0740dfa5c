"""Forms of the order pages. They parse and validate input only: every write is a service call,
which does the real checks (ZIP and state, SKUs, duplicates)."""

from __future__ import annotations

from django import forms
from django.forms import formset_factory

from .enums import Channel, OrderStatus, ServiceLevel
from .models import Order
from .services import SHIP_TO_FIELDS

DATE = forms.DateInput(attrs={"type": "date"})


class OrderFilterForm(forms.Form):
    q = forms.CharField(label="Reference or SKU", required=False)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "All"), *OrderStatus.choices])
    channel = forms.ChoiceField(label="Channel", required=False, choices=[("", "All"), *Channel.choices])
    client = forms.TypedChoiceField(label="Client", required=False, coerce=int, empty_value=None)
    since = forms.DateField(label="Received from", required=False, widget=DATE)
    until = forms.DateField(label="to", required=False, widget=DATE, help_text="Inclusive")

    def __init__(self, *args, clients=None, dates: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if clients is None:
            del self.fields["client"]
        else:
            self.fields["client"].choices = [("", "All"), *((c.pk, c.name) for c in clients)]
        if not dates:
            del self.fields["since"], self.fields["until"]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date is before the start date.")
        return data


class ShipToForm(forms.Form):
    """The ship-to fields, with the model's labels and limits."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = forms.fields_for_model(Order, fields=SHIP_TO_FIELDS)
        fields["ship_to_name"].label = "Name"
        fields["ship_to_company"].label = "Company"
        fields["ship_to_address1"].label = "Address line 1"
        fields["ship_to_address2"].label = "Address line 2"
        fields["ship_to_city"].label = "City"
        fields["ship_to_state"].label = "State"
        fields["ship_to_state"].help_text = "Two letters, e.g. NJ"
        fields["ship_to_zip"].label = "ZIP code"
        fields["ship_to_country"].label = "Country"
        fields["ship_to_country"].help_text = "Two-letter ISO code"
        fields["ship_to_phone"].label = "Phone"
        fields["ship_to_email"].label = "E-mail"
        fields["ship_to_email"].widget = forms.TextInput(attrs={"type": "email"})
        fields["ship_to_email"].validators = []  # the service checks it (one message, one place)
        self.fields.update(fields)

    def ship_to(self) -> dict[str, str]:
        return {f: self.cleaned_data.get(f) or "" for f in SHIP_TO_FIELDS}


class OrderForm(ShipToForm):
    external_reference = forms.CharField(
        label="Your order reference", max_length=100, help_text="Unique among your portal orders"
    )
    service_level = forms.ChoiceField(
        label="Service level", choices=ServiceLevel.choices, initial=ServiceLevel.STANDARD
    )
    gift_message = forms.CharField(
        label="Gift message", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ship_to_country"].initial = "US"
        order = ["external_reference", "service_level", *SHIP_TO_FIELDS, "gift_message", "notes"]
        self.fields = {name: self.fields[name] for name in order}

    def header(self) -> dict:
        data = self.cleaned_data
        return {
            "service_level": data["service_level"],
            "gift_message": data["gift_message"],
            "notes": data["notes"],
        }


class OrderLineForm(forms.Form):
    sku = forms.CharField(label="SKU or barcode", max_length=64)
    quantity = forms.IntegerField(label="Quantity", min_value=1)
    unit_price = forms.DecimalField(label="Unit price", required=False, min_value=0, decimal_places=4)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # the table's column headers are the visible labels
            field.widget.attrs["aria-label"] = field.label

    def line(self) -> dict:
        data = self.cleaned_data
        return {"sku": data["sku"], "quantity": data["quantity"], "unit_price": data.get("unit_price")}


OrderLineFormSet = formset_factory(OrderLineForm, extra=3, max_num=1000, absolute_max=1000)
# Editing: the current lines pre-filled, a "Remove" box on each, one blank row to add to.
OrderLineEditFormSet = formset_factory(
    OrderLineForm, extra=1, can_delete=True, max_num=1000, absolute_max=1000
)


class HoldForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500)


class ShopifyConnectionForm(forms.Form):
    shop_domain = forms.CharField(label="Shop domain", max_length=255, help_text="e.g. acme.myshopify.com")
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        max_length=255,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Shopify admin → Settings → Notifications → Webhooks: “Your webhooks will be signed with …”",
    )
    active = forms.BooleanField(label="Accept orders from this store", required=False, initial=True)

    def __init__(self, *args, connection=None, **kwargs):
        super().__init__(*args, **kwargs)
        if connection is not None:  # the secret is kept unless a new one is given
            self.fields["webhook_secret"].required = False
            self.fields["webhook_secret"].help_text = "Leave blank to keep the current secret."
