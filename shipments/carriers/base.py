"""The carrier adapter interface: rate, buy a label, void it, track it.

Everything that talks to a carrier goes through a ``CarrierAdapter``; services never import a
concrete adapter, they call ``adapter_for(carrier)``. The built-in rate-card carrier
(``rate_card.RateCardAdapter``) is the default and the one tests use.

How a real carrier plugs in (EasyPost, Shippo, UPS's own API...):
1. add its kind to ``CarrierAdapterKind`` in ``shipments/enums.py`` (only with a working adapter);
2. subclass ``CarrierAdapter`` in ``shipments/carriers/<name>.py`` and decorate the class with
   ``@register(CarrierAdapterKind.<KIND>)``; import that module in ``shipments/carriers/__init__.py``
   so the registry knows it;
3. ``rate`` calls the carrier's rating API and maps each answer to a ``rates.Quote`` (rate shopping
   then works unchanged); ``buy_label`` buys the label and returns its tracking numbers, the label
   PDF/ZPL the API returns and the billed cost; ``void`` calls the carrier's void/refund endpoint
   and raises ``VoidRefused`` with the carrier's message when it says no; ``track`` maps the
   carrier's scan events to ``TrackingUpdate`` (statuses of DOMAIN.md);
4. network and API failures raise ``CarrierError`` (the caller rolls back and shows the message);
   tests fake the carrier with a local HTTP server or recorded responses, never our database.
Credentials come from settings or the environment, never from the ``Carrier`` row's public fields.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fulfillment.calendar import BusinessCalendar

    from .. import rates
    from ..models import Carrier, Package, Shipment


class CarrierError(Exception):
    """The carrier could not do what was asked (bad account data, API down, refused request)."""


class VoidRefused(CarrierError):
    """The label cannot be voided any more (the parcel has left, or the carrier says no)."""


@dataclass(frozen=True)
class LabelResult:
    """A bought label: the shipment's tracking number (its first package's), one per package in
    package order, the label as PDF and ZPL (every package's page), and the billed cost."""

    tracking_number: str
    package_tracking_numbers: list[str] = field(hash=False)
    label_pdf: bytes
    label_zpl: str
    cost: Decimal
    currency: str


@dataclass(frozen=True)
class TrackingUpdate:
    """One scan event as a carrier reports it; ``status`` is a ``TrackingStatus`` value."""

    status: str
    occurred_at: datetime
    location: str
    description: str
    external_id: str
    estimated_delivery_date: date | None = None


class CarrierAdapter(abc.ABC):
    """One carrier's way of rating, labelling, voiding and tracking."""

    def __init__(self, carrier: Carrier):
        self.carrier = carrier

    @abc.abstractmethod
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
        """Every service of this carrier that can take the parcels, cheapest first."""

    @abc.abstractmethod
    def buy_label(self, *, shipment: Shipment, packages: list[Package], quote: rates.Quote) -> LabelResult:
        """Buy the label for ``packages`` (in package order) at the quoted service."""

    @abc.abstractmethod
    def void(self, *, shipment: Shipment) -> None:
        """Void the shipment's label, or raise ``VoidRefused`` saying why not."""

    @abc.abstractmethod
    def track(self, *, shipment: Shipment) -> list[TrackingUpdate]:
        """The carrier's tracking events for the shipment (oldest first)."""


ADAPTERS: dict[str, type[CarrierAdapter]] = {}


def register(kind: str):
    """Class decorator: the adapter class for ``Carrier.adapter == kind``."""

    def decorate(cls: type[CarrierAdapter]) -> type[CarrierAdapter]:
        ADAPTERS[str(kind)] = cls
        return cls

    return decorate


def adapter_for(carrier: Carrier) -> CarrierAdapter:
    try:
        cls = ADAPTERS[carrier.adapter]
    except KeyError:
        raise CarrierError(f"No adapter for carrier {carrier.code} (kind “{carrier.adapter}”).") from None
    return cls(carrier)
