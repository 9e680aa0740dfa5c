"""Carrier adapters: ``adapter_for(carrier)`` answers the adapter of a ``Carrier`` row (see
``base`` for the interface and how a real carrier's API plugs in)."""

from .base import (
    ADAPTERS,
    CarrierAdapter,
    CarrierError,
    LabelResult,
    TrackingUpdate,
    VoidRefused,
    adapter_for,
    register,
)
from .rate_card import RateCardAdapter
from .shopping import quote_all

__all__ = [
    "ADAPTERS",
    "CarrierAdapter",
    "CarrierError",
    "LabelResult",
    "RateCardAdapter",
    "TrackingUpdate",
    "VoidRefused",
    "adapter_for",
    "quote_all",
    "register",
]
