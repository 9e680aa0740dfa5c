"""Forms of the floor pages: the wave builder, the pick screen's scans, the pack station."""

from __future__ import annotations

from django import forms

from inventory.forms import SCAN, ItemScanForm
from orders.enums import ServiceLevel
from shipments.enums import WaveUnits


class WaveCreateForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=None, label="Node", empty_label=None)
    ship_by_date = forms.DateField(
        label="Due by (local day)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    service_level = forms.ChoiceField(
        label="Service level", required=False, choices=[("", "Any"), *ServiceLevel.choices]
    )
    units = forms.ChoiceField(label="Units", choices=WaveUnits.choices, initial=WaveUnits.ANY)
    limit = forms.IntegerField(label="At most (orders)", required=False, min_value=1, max_value=1000)

    def __init__(self, *args, nodes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = nodes


class AssignForm(forms.Form):
    assigned_to = forms.ModelChoiceField(queryset=None, label="Picker", required=False, empty_label="Nobody")

    def __init__(self, *args, operators=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = operators


class PickScanForm(forms.Form):
    location = forms.CharField(
        label="Bin", max_length=64, widget=forms.TextInput(attrs={**SCAN, "placeholder": "Scan the bin"})
    )
    item = forms.CharField(
        label="Item (barcode or SKU)",
        max_length=64,
        widget=forms.TextInput(attrs={**SCAN, "placeholder": "Scan the item"}),
    )
    quantity = forms.IntegerField(
        label="Quantity", min_value=1, initial=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )


class ShortForm(forms.Form):
    found = forms.IntegerField(
        label="Units found", min_value=0, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )


class PackStartForm(forms.Form):
    code = forms.CharField(
        label="Order number or reference",
        max_length=100,
        widget=forms.TextInput(attrs={**SCAN, "autofocus": True, "placeholder": "Scan the order"}),
    )
    warehouse = forms.ModelChoiceField(queryset=None, label="Node", empty_label=None)

    def __init__(self, *args, nodes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = nodes


class PackScanForm(ItemScanForm):
    """A unit scanned into the open package."""


class PackageCloseForm(forms.Form):
    box_type = forms.ModelChoiceField(queryset=None, label="Box", required=False, empty_label="Custom size")
    weight_lb = forms.DecimalField(label="Weight (lb)", min_value=0, max_digits=9, decimal_places=3)
    length_in = forms.DecimalField(label="Length (in)", required=False, max_digits=7, decimal_places=2)
    width_in = forms.DecimalField(label="Width (in)", required=False, max_digits=7, decimal_places=2)
    height_in = forms.DecimalField(label="Height (in)", required=False, max_digits=7, decimal_places=2)

    def __init__(self, *args, boxes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["box_type"].queryset = boxes
