"""Demo data: the operator's staff, three nodes in three time zones, five brands with users and keys.

Idempotent: a rerun finds what exists and creates only what is missing. Later apps add items,
stock, ASNs, orders and shipments through their own ``seed_demo`` hooks.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.actors import Actor
from accounts.enums import KeyScope, Role
from accounts.models import APIKey, Client, User, Warehouse

DEMO_PASSWORD = "demo-pass-2026"

WAREHOUSES = [
    {
        "code": "NJ1",
        "name": "Secaucus, NJ",
        "address_line1": "400 County Ave",
        "city": "Secaucus",
        "state": "NJ",
        "zip_code": "07094",
        "time_zone": "America/New_York",
    },
    {
        "code": "TX1",
        "name": "Dallas, TX",
        "address_line1": "2201 W Airfield Dr",
        "city": "Dallas",
        "state": "TX",
        "zip_code": "75261",
        "time_zone": "America/Chicago",
    },
    {
        "code": "CA1",
        "name": "Ontario, CA",
        "address_line1": "1900 S Milliken Ave",
        "city": "Ontario",
        "state": "CA",
        "zip_code": "91761",
        "time_zone": "America/Los_Angeles",
    },
]
CLOSURES = {"NJ1": [(date(2026, 12, 24), "Christmas Eve"), (date(2026, 12, 31), "New Year's Eve")]}

STAFF = [
    ("admin@demo.fulfillment.test", "Olivia Operator", Role.OPERATOR_ADMIN, []),
    ("am.east@demo.fulfillment.test", "Ethan East", Role.ACCOUNT_MANAGER, []),
    ("am.west@demo.fulfillment.test", "Wendy West", Role.ACCOUNT_MANAGER, []),
    ("floor.nj@demo.fulfillment.test", "Nick Floor", Role.WAREHOUSE_OPERATOR, ["NJ1"]),
]

CLIENTS = [
    # slug, name, time zone, account manager, nodes, SLA overrides
    ("acme-apparel", "Acme Apparel", "America/New_York", "am.east", ["NJ1", "TX1"], {}),
    ("brightbrew", "BrightBrew Coffee", "America/Chicago", "am.east", ["TX1"], {"order_cutoff": time(12, 0)}),
    ("coastal-candles", "Coastal Candles", "America/Los_Angeles", "am.west", ["CA1"], {}),
    (
        "dune-outdoor",
        "Dune Outdoor Gear",
        "America/Denver",
        "am.west",
        ["TX1", "CA1"],
        {"ship_sla_days": 1, "target_on_time_ship": Decimal("98.00")},
    ),
    ("evergreen-vitamins", "Evergreen Vitamins", "America/New_York", "am.east", ["NJ1", "TX1", "CA1"], {}),
]


class Command(BaseCommand):
    help = "Load (or complete) the demo: staff, three nodes, five brands with users and API keys."

    def handle(self, *args, **options):
        actor = Actor.system("seed_demo")
        new_keys: list[tuple[str, str]] = []
        with transaction.atomic():
            warehouses = {}
            for spec in WAREHOUSES:
                warehouse = Warehouse.objects.filter(code=spec["code"]).first()
                if warehouse is None:
                    closures = [{"date": d, "reason": r} for d, r in CLOSURES.get(spec["code"], [])]
                    warehouse = services.warehouse_create(actor=actor, closures=closures, **spec)
                warehouses[spec["code"]] = warehouse

            staff = {}
            for email, full_name, role, nodes in STAFF:
                staff[email.split("@")[0]] = self._user(
                    actor,
                    email=email,
                    full_name=full_name,
                    role=role,
                    warehouse_ids=[warehouses[c].pk for c in nodes] or None,
                )

            for slug, name, tz, manager, nodes, overrides in CLIENTS:
                client = Client.objects.filter(slug=slug).first()
                if client is None:
                    client = services.client_create(
                        actor=actor,
                        name=name,
                        slug=slug,
                        time_zone=tz,
                        account_manager_ids=[staff[manager].pk],
                        warehouse_ids=[warehouses[c].pk for c in nodes],
                        **overrides,
                    )
                for local, full_name, role in (
                    ("admin", "Admin", Role.CLIENT_ADMIN),
                    ("ops", "Ops", Role.CLIENT_USER),
                ):
                    self._user(
                        actor,
                        email=f"{local}@{slug}.demo.test",
                        full_name=f"{name} {full_name}",
                        role=role,
                        client=client,
                    )
                if not APIKey.all_objects.filter(client=client, name="Demo integration").exists():
                    new = services.api_key_create(
                        actor=actor, name="Demo integration", client=client, scope=KeyScope.READ_WRITE
                    )
                    new_keys.append((slug, new.secret))

            inventory_created = self._seed_apps(actor)

        if inventory_created:
            self.stdout.write(
                "Demo inventory loaded: bins at every node, catalogs, stock and ASNs in every state."
            )
        self._print_logins(new_keys)

    def _seed_apps(self, actor: Actor) -> bool:
        """The other apps' demo data, through their own services (scopes are per client there)."""
        from django_scopes import scopes_disabled

        from accounts.models import Warehouse
        from inventory.demo import seed_inventory
        from orders.demo import seed_orders
        from reporting.demo import seed_kpi_history
        from shipments.demo import seed_shipments
        from shipments.demo_carriers import seed_boxes, seed_carriers

        with scopes_disabled():  # the system actor seeds every client
            created = seed_inventory(actor)
            seed_carriers()
            for warehouse in Warehouse.objects.order_by("pk"):
                seed_boxes(warehouse)
            seed_orders(actor)
            seed_shipments(actor)
            seed_kpi_history(days_back=30)
            return created

    def _user(self, actor: Actor, *, email: str, **fields) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = services.user_invite(
                actor=actor, email=email, password=DEMO_PASSWORD, send_email=False, **fields
            )
        return user

    def _print_logins(self, new_keys: list[tuple[str, str]]) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data is loaded."))
        out.write(f"Every demo login uses the password: {DEMO_PASSWORD}")
        rows = [
            ("Operator admin", "admin@demo.fulfillment.test"),
            ("Account manager (Acme, BrightBrew, Evergreen)", "am.east@demo.fulfillment.test"),
            ("Account manager (Coastal, Dune)", "am.west@demo.fulfillment.test"),
            ("Warehouse operator (NJ1)", "floor.nj@demo.fulfillment.test"),
        ]
        rows += [(f"{name}: client admin", f"admin@{slug}.demo.test") for slug, name, *_ in CLIENTS]
        rows += [(f"{name}: client user", f"ops@{slug}.demo.test") for slug, name, *_ in CLIENTS[:1]]
        width = max(len(r[0]) for r in rows)
        for role, email in rows:
            out.write(f"  {role.ljust(width)}  {email}")
        if new_keys:
            out.write("API keys created now (shown once; only their digests are stored):")
            for slug, secret in new_keys:
                out.write(f"  {slug.ljust(20)} {secret}")
