from __future__ import annotations

import factory

from accounts.actors import Actor
from accounts.enums import CLIENT_ROLES, KeyScope, Role
from accounts.models import APIKey, Client, User, Warehouse
from accounts.services import api_key_create

TEST_PASSWORD = "correct-horse-battery-9"


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse

    code = factory.Sequence(lambda n: f"WH{n:03d}")
    name = factory.Sequence(lambda n: f"Node {n}")
    address_line1 = "1 Logistics Way"
    city = "Secaucus"
    state = "NJ"
    zip_code = "07094"
    time_zone = "America/New_York"


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    time_zone = "America/New_York"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    role = Role.CLIENT_USER
    client = factory.Maybe(
        factory.LazyAttribute(lambda o: o.role in CLIENT_ROLES), factory.SubFactory(ClientFactory), None
    )
    password = factory.django.Password(TEST_PASSWORD)


def make_api_key(
    *,
    client: Client | None = None,
    staff_user: User | None = None,
    read_only: bool = False,
    name: str = "test",
) -> tuple[APIKey, str]:
    new = api_key_create(
        actor=Actor.system("tests"),
        name=name,
        client=client,
        staff_user=staff_user,
        scope=KeyScope.READ_ONLY if read_only else KeyScope.READ_WRITE,
    )
    return new.api_key, new.secret
