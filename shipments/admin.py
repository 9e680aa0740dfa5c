"""Django admin for the operator's carrier catalog: carriers, services with their rate cards, and
node box catalogs (operator data, no client scope). Client-owned shipment rows are read through the
pages and the API, not here."""

from django.contrib import admin

from .models import BoxType, Carrier, CarrierService, Rate


class CarrierServiceInline(admin.TabularInline):
    model = CarrierService
    extra = 0
    fields = ("code", "name", "transit_days", "max_weight_lb", "active")
    show_change_link = True


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "adapter",
        "tracking_format",
        "fuel_surcharge_pct",
        "residential_surcharge",
        "active",
    )
    list_filter = ("active", "adapter", "tracking_format")
    search_fields = ("name", "code")
    readonly_fields = ("webhook_token",)
    inlines = [CarrierServiceInline]


class RateInline(admin.TabularInline):
    model = Rate
    extra = 0
    fields = ("zone", "weight_lb", "price")
    ordering = ("zone", "weight_lb")


@admin.register(CarrierService)
class CarrierServiceAdmin(admin.ModelAdmin):
    list_display = ("__str__", "code", "max_weight_lb", "active")
    list_filter = ("active", "carrier")
    search_fields = ("name", "code", "carrier__name")
    list_select_related = ("carrier",)
    inlines = [RateInline]


@admin.register(BoxType)
class BoxTypeAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "warehouse",
        "length_in",
        "width_in",
        "height_in",
        "max_weight_lb",
        "cost",
        "active",
    )
    list_filter = ("active", "warehouse")
    search_fields = ("code", "name")
    list_select_related = ("warehouse",)
