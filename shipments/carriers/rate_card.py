"""The built-in carrier: prices from its rate card, labels printed here, numbers in its format.

It has no network: ``void`` only checks that the parcel has not left (not shipped, not on a
manifest), and ``track`` returns nothing because its tracking arrives by the carrier webhook and
the tracking API.
"""

from __future__ import annotations

from datetime import date

from fulfillment.calendar import BusinessCalendar

from .. import documents, rates
from ..enums import CarrierAdapterKind
from ..models import CarrierService, Package, Shipment
from . import tracking_numbers
from .base import CarrierAdapter, CarrierError, LabelResult, TrackingUpdate, VoidRefused, register


@register(CarrierAdapterKind.RATE_CARD)
class RateCardAdapter(CarrierAdapter):
    def services(self) -> list[CarrierService]:
        services = CarrierService.objects.filter(carrier=self.carrier, active=True).order_by("code")
        for service in services:
            service.carrier = self.carrier  # quote_services reads it: no query per service
        return list(services)

    def rate(
        self,
        *,
        origin_zip: str,
        destination_zip: str,
        parcels: list[rates.Parcel],
        residential: bool,
        ship_date: date | None,
        calendar: BusinessCalendar | None,
        service_level: str | None,
    ) -> list[rates.Quote]:
        if not self.carrier.active:
            return []
        return rates.quote_services(
            services=self.services(),
            origin_zip=origin_zip,
            destination_zip=destination_zip,
            parcels=parcels,
            residential=residential,
            ship_date=ship_date,
            calendar=calendar,
            service_level=service_level,
        )

    def buy_label(self, *, shipment: Shipment, packages: list[Package], quote: rates.Quote) -> LabelResult:
        if quote.carrier != self.carrier.code:
            raise CarrierError(f"The quote is for {quote.carrier_name}, not {self.carrier.name}.")
        if not packages:
            raise CarrierError("A label needs at least one package.")
        if any(p.pk is None for p in packages):
            raise CarrierError("Save the packages before buying their label.")
        try:
            numbers = tracking_numbers.issue(
                carrier=self.carrier, service_code=quote.service, seeds=[p.pk for p in packages]
            )
        except ValueError as exc:  # the carrier's account data cannot make a number
            raise CarrierError(str(exc)) from exc
        return LabelResult(
            tracking_number=numbers[0],
            package_tracking_numbers=numbers,
            label_pdf=documents.label_pdf(
                shipment=shipment, packages=packages, tracking_numbers=numbers, quote=quote
            ),
            label_zpl=documents.label_zpl(
                shipment=shipment, packages=packages, tracking_numbers=numbers, quote=quote
            ),
            cost=quote.total,
            currency=quote.currency,
        )

    def void(self, *, shipment: Shipment) -> None:
        if shipment.shipped_at is not None:
            raise VoidRefused(
                f"{shipment.number} left the node on {shipment.shipped_at:%Y-%m-%d}: "
                "its label can no longer be voided."
            )
        if shipment.manifest_id is not None:
            raise VoidRefused(
                f"{shipment.number} is on a closed manifest: the carrier has it, the label cannot be voided."
            )

    def track(self, *, shipment: Shipment) -> list[TrackingUpdate]:
        return []
