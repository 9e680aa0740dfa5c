"""The tenancy matrix: every operation in the OpenAPI schema, tried by tenant B's actors on tenant A.

The operations come from ``/api/schema/``, so an endpoint added later is probed without anyone
remembering to add it here. What the matrix needs to know about an endpoint is how to find
"tenant A's objects" for its path parameters: ``COLLECTIONS`` maps a collection's prefix
(``/api/v1/users/``) to that. A new action on a registered collection (``/api/v1/users/{id}/lock/``)
is covered at once; a new collection fails the matrix until it is registered.

For every operation and every actor of tenant B it checks that
- no response contains a marker of A (A's slug, A's users' e-mails, A's key prefixes, a unique
  string in the names of A's objects), and B's lists hold none of A's ids, even filtered on A;
- on an object path, A's id answers exactly like an id that does not exist (403, 404 or 405, and
  404 whenever the actor's role may do the action at all), while B's own object answers 200;
- a body that refers to A's objects answers like one that refers to missing ids;
- nothing of A is written, whatever the request: A's rows are compared after every write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Q
from django.urls import Resolver404, resolve
from django_scopes import ScopeError, scope
from rest_framework.permissions import SAFE_METHODS
from rest_framework.test import APIClient

from accounts import services
from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import APIKey, AuditEvent, Client, User, Warehouse, WarehouseClosure
from accounts.roles import Perm
from tests.accounts.factories import UserFactory, make_api_key

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ANSWERS_HIDING_AN_OBJECT = {403, 404, 405}
MISSING_ID = 999_999_999


# --- the world: two tenants, each with an account manager and marked objects --------------------


@dataclass
class Side:
    """One tenant (conftest's ``make_tenant``) plus what the matrix adds: an account manager
    assigned only to it (with a staff key), and unique markers in the names of its objects."""

    label: str
    tenant: Any
    manager: User
    manager_key: APIKey
    manager_secret: str
    marker: str  # in names of the tenant's own objects: no other tenant's actor may see it
    node_marker: str  # in its node's name: hidden from other clients, not from operator staff

    @property
    def client(self) -> Client:
        return self.tenant.client

    @property
    def warehouse(self) -> Warehouse:
        return self.tenant.warehouse

    def private_markers(self) -> set[str]:
        t = self.tenant
        return {
            self.marker,
            t.client.slug,
            t.admin.email,
            t.user.email,
            self.manager.email,
            t.key.prefix,
            t.ro_key.prefix,
            self.manager_key.prefix,
            f"key of {self.label}",
        }


def build_side(tenant, label: str) -> Side:
    system = Actor.system("tenancy matrix")
    marker, node_marker = f"mx{uuid.uuid4().hex[:12]}", f"nd{uuid.uuid4().hex[:12]}"
    manager = UserFactory(
        role=Role.ACCOUNT_MANAGER,
        client=None,
        email=f"manager-{tenant.client.slug}@example.test",
        password=None,
    )
    services.client_update(
        actor=system, client=tenant.client, name=f"Tenant {label} {marker}", account_manager_ids=[manager.pk]
    )
    services.user_update(actor=system, user=tenant.user, full_name=f"Person of {label} {marker}")
    services.warehouse_update(
        actor=system,
        warehouse=tenant.warehouse,
        name=f"Node of {label} {node_marker}",
        closures=[{"date": date(2031, 1, 3), "reason": f"Closed {node_marker}"}],
    )
    manager_key, manager_secret = make_api_key(staff_user=manager, name=f"staff key of {label} {marker}")
    return Side(label, tenant, manager, manager_key, manager_secret, marker, node_marker)


# --- the registry: how to find a tenant's objects in each collection ----------------------------


@dataclass(frozen=True)
class Collection:
    """How the matrix finds one tenant's objects in a collection.

    ``objects``: ids of the tenant's objects to try on the collection's object paths (the first
    one also stands for the parent in nested paths, and is B's object that B must reach).
    ``all_ids``: every id of the tenant's objects, none of which may appear in another tenant's
    list (default: ``objects``). ``staff_see_all``: operator-owned rows (nodes) that staff roles see
    whatever their clients; only client actors must not see another client's.
    """

    objects: Callable[[Side], list[int | str]]
    all_ids: Callable[[Side], set] | None = None
    staff_see_all: bool = False

    def first(self, side: Side) -> int | str:
        return self.objects(side)[0]

    def ids(self, side: Side) -> set:
        return self.all_ids(side) if self.all_ids else set(self.objects(side))


def _users_of(side: Side) -> set[int]:
    return set(
        User.objects.filter(Q(client=side.client) | Q(pk=side.manager.pk)).values_list("pk", flat=True)
    )


def _keys_of(side: Side) -> set[int]:
    keys = APIKey.all_objects.filter(Q(client=side.client) | Q(staff_user=side.manager))
    return set(keys.values_list("pk", flat=True))


def _audit_events_of(side: Side) -> set[int]:
    return set(AuditEvent.objects.filter(client=side.client).values_list("pk", flat=True))


# Keyed by the path up to a path parameter ("/api/v1/orders/{id}/lines/" for a nested one).
COLLECTIONS: dict[str, Collection] = {
    "/api/v1/clients/": Collection(lambda s: [s.client.pk]),
    "/api/v1/warehouses/": Collection(lambda s: [s.warehouse.pk], staff_see_all=True),
    "/api/v1/users/": Collection(
        lambda s: [s.tenant.user.pk, s.tenant.admin.pk, s.manager.pk], all_ids=_users_of
    ),
    "/api/v1/api-keys/": Collection(lambda s: [s.tenant.key.pk, s.manager_key.pk], all_ids=_keys_of),
    "/api/v1/audit-events/": Collection(lambda s: [min(_audit_events_of(s))], all_ids=_audit_events_of),
}

REGISTER_HINT = (
    "register it in COLLECTIONS in tests/tenancy/test_matrix.py: a function that returns the "
    "tenant's object ids in this collection (create the objects in build_side if the tenant has none)"
)


def _missing(value: Any) -> Any:
    """The same reference, to an object that does not exist."""
    if isinstance(value, list):
        return [_missing(v) for v in value]
    return MISSING_ID if isinstance(value, int) else value


@dataclass(frozen=True)
class Body:
    what: str
    to_a: dict  # refers to A's objects
    to_missing: dict  # the same references, to ids that do not exist
    refers_to: frozenset[str]  # the COLLECTIONS the references point into


def write_bodies(a: Side) -> list[Body]:
    """Plausible bodies that point at A's objects: all references at once, and each alone (so a
    rejected reference does not hide what another one would do). Fresh e-mails and slugs, so a
    body that B may legitimately post never collides with an earlier one."""

    def base() -> dict:
        u = uuid.uuid4().hex[:10]
        return {
            "name": f"leak {u}",
            "full_name": f"leak {u}",
            "email": f"leak-{u}@example.test",
            "slug": f"leak-{u}",
            "role": Role.CLIENT_USER.value,
            "scope": "read_write",
        }

    references = {  # field -> (the collection it points into, A's value)
        "client": ("/api/v1/clients/", a.client.pk),
        "staff_user": ("/api/v1/users/", a.manager.pk),
        "warehouses": ("/api/v1/warehouses/", [a.warehouse.pk]),
        "account_managers": ("/api/v1/users/", [a.manager.pk]),
    }
    variants = [("all references to A", references)]
    variants += [(f"{name}=A's", {name: ref}) for name, ref in references.items()]
    variants.append(("staff_user=A's client admin", {"staff_user": ("/api/v1/users/", a.tenant.admin.pk)}))
    return [
        Body(
            what,
            base() | {name: value for name, (_key, value) in refs.items()},
            base() | {name: _missing(value) for name, (_key, value) in refs.items()},
            frozenset(key for key, _value in refs.values()),
        )
        for what, refs in variants
    ]


def query_probes(a: Side) -> dict[str, Any]:
    """List filters that name A's objects: B's lists must come back without A's rows."""
    return {
        "client": a.client.pk,
        "account_manager": a.manager.pk,
        "slug": a.client.slug,
        "q": a.client.slug,
        "email": a.tenant.admin.email,
        "target_id": a.tenant.key.pk,
    }


def snapshot(a: Side) -> dict[str, list]:
    """Everything of A that B's actors must never change, new users and keys of A included."""
    client, warehouse, manager = a.client, a.warehouse, a.manager
    users = User.objects.filter(Q(client=client) | Q(pk=manager.pk))
    return {
        "client": list(Client.objects.filter(pk=client.pk).values()),
        "client.account_managers": sorted(client.account_managers.values_list("pk", flat=True)),
        "client.warehouses": sorted(client.warehouses.values_list("pk", flat=True)),
        "users": list(users.order_by("pk").values()),
        "users.warehouses": sorted(
            User.warehouses.through.objects.filter(user__in=users).values_list("user_id", "warehouse_id")
        ),
        "manager.managed_clients": sorted(manager.managed_clients.values_list("pk", flat=True)),
        "api_keys": list(
            APIKey.all_objects.filter(Q(client=client) | Q(staff_user=manager)).order_by("pk").values()
        ),
        "audit_events": list(AuditEvent.objects.filter(client=client).order_by("pk").values()),
        "warehouse": list(Warehouse.objects.filter(pk=warehouse.pk).values()),
        "warehouse.closures": list(
            WarehouseClosure.objects.filter(warehouse=warehouse).order_by("pk").values()
        ),
        "warehouse.clients": sorted(warehouse.clients.values_list("pk", flat=True)),
        "warehouse.operators": sorted(warehouse.operators.values_list("pk", flat=True)),
    }


# --- the actors of tenant B ---------------------------------------------------------------------


def _key_api(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def _session_api(user: User) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


ACTORS: dict[str, Callable[[Side], tuple[APIClient, Actor]]] = {
    "B's read-write key": lambda b: (_key_api(b.tenant.secret), Actor.for_api_key(b.tenant.key)),
    "B's read-only key": lambda b: (_key_api(b.tenant.ro_secret), Actor.for_api_key(b.tenant.ro_key)),
    "B's client admin (session)": lambda b: (_session_api(b.tenant.admin), Actor.for_user(b.tenant.admin)),
    "B's client user (session)": lambda b: (_session_api(b.tenant.user), Actor.for_user(b.tenant.user)),
    "B's account manager (session)": lambda b: (_session_api(b.manager), Actor.for_user(b.manager)),
    "B's account manager (staff key)": lambda b: (
        _key_api(b.manager_secret),
        Actor.for_api_key(b.manager_key),
    ),
}


# --- the schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    path_params: tuple[tuple[str, dict], ...]  # (name, JSON schema), in path order
    query_params: frozenset[str]

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def schema_operations() -> list[Operation]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    operations = []
    for path, item in response.json()["paths"].items():
        shared = item.get("parameters", [])
        for method, spec in item.items():
            if method == "parameters":
                continue
            params = {(p["in"], p["name"]): p for p in [*shared, *spec.get("parameters", [])]}
            in_path = {name: p.get("schema", {}) for (where, name), p in params.items() if where == "path"}
            ordered = tuple(sorted(in_path.items(), key=lambda kv: path.index("{" + kv[0] + "}")))
            query = frozenset(name for where, name in params if where == "query")
            operations.append(Operation(path, method, ordered, query))
    return operations


def missing_value(param_schema: dict) -> int | str:
    if param_schema.get("type") == "integer":
        return MISSING_ID
    if param_schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return f"missing-{uuid.uuid4().hex[:8]}"


def answer(response) -> tuple[int, list[str]]:
    """What a caller learns from a response, besides the ids it sent: the status and the fields
    named in an error."""
    try:
        fields = response.json()["error"]["fields"]
    except (ValueError, KeyError, TypeError):
        fields = {}
    return response.status_code, sorted(fields)


def list_rows(response) -> list | None:
    try:
        data = response.json()
    except ValueError:
        return None
    rows = data.get("results") if isinstance(data, dict) else data
    return rows if isinstance(rows, list) else None


# --- the probe ----------------------------------------------------------------------------------


@dataclass
class Probe:
    """One actor of B, trying every operation on A; failures are collected, each naming the
    operation, the actor and the request."""

    a: Side
    b: Side
    actor_name: str
    api: APIClient
    actor: Actor
    failures: list[str] = field(default_factory=list)
    exercised: set[tuple[str, str]] = field(default_factory=set)
    baseline: dict = field(default_factory=dict)

    def fail(self, op: Operation, what: str, problem: str) -> None:
        self.failures.append(f"{op} as {self.actor_name} ({what}): {problem}")

    # What the actor may see and do --------------------------------------------------------------
    def markers(self, collections: list[Collection]) -> set[str]:
        markers = self.a.private_markers()
        if self.actor.is_client or not any(c.staff_see_all for c in collections):
            markers.add(self.a.node_marker)
        return markers

    def hidden_from_actor(self, collection: Collection) -> bool:
        """Whether A's objects in this collection are A's own as far as this actor is concerned."""
        return self.actor.is_client or not collection.staff_see_all

    def role_allows(self, method: str, url: str) -> bool:
        """Whether the actor's role may do this action at all: the view's ``perms`` map (action ->
        Perm, or a tuple of which one suffices), and read-only keys only read."""
        if self.actor.read_only and method.upper() not in SAFE_METHODS:
            return False
        try:
            view = resolve(url).func
        except Resolver404:
            return False
        perms = getattr(getattr(view, "cls", None), "perms", None)
        if perms is None:
            return True
        needed = perms.get((getattr(view, "actions", None) or {}).get(method))
        if isinstance(needed, Perm):
            needed = (needed,)
        return bool(needed) and any(self.actor.can(perm) for perm in needed)

    # One request, with the checks every request gets -------------------------------------------
    def send(
        self,
        op: Operation,
        url: str,
        what: str,
        *,
        collections: list[Collection],
        body: dict | None = None,
        query: dict | None = None,
        echoed: frozenset[str] = frozenset(),
    ):
        try:
            if op.method == "get":
                response = self.api.get(url, query or {})
            else:
                response = getattr(self.api, op.method)(url, body or {}, format="json")
        except Exception as exc:  # a 500 re-raised by the test client: report it with the others
            self.fail(op, what, f"raised {exc.__class__.__name__}: {exc}")
            return None
        if response.status_code >= 500:
            self.fail(op, what, f"answered {response.status_code}")
        text = response.content.decode("utf-8", "replace")
        if leaked := sorted(m for m in self.markers(collections) - echoed if m in text):
            self.fail(op, what, f"response ({response.status_code}) contains A's {leaked}: {text[:300]}")
        if op.method != "get":
            self.check_nothing_written(f"{op} as {self.actor_name} ({what}, answered {response.status_code})")
        return response

    def check_nothing_written(self, by: str) -> None:
        now = snapshot(self.a)
        if now != self.baseline:
            changed = sorted(k for k in now if now[k] != self.baseline[k])
            self.failures.append(f"{by}: wrote to A: {changed} changed")
            self.baseline = now

    # Operations ---------------------------------------------------------------------------------
    def collections_of(self, op: Operation) -> list[Collection] | None:
        """The registered collection of each path parameter (or, without any, of the path)."""
        if not op.path_params:
            keys = [k for k in COLLECTIONS if op.path.startswith(k)]
            if not keys:
                self.fail(
                    op, "collection", f"no collection for {op.path!r} in the tenancy matrix; {REGISTER_HINT}"
                )
                return None
            return [COLLECTIONS[max(keys, key=len)]]
        collections = []
        for name, _schema in op.path_params:
            key = op.path[: op.path.index("{" + name + "}")]
            if key not in COLLECTIONS:
                self.fail(op, f"{{{name}}}", f"no collection {key!r} in the tenancy matrix; {REGISTER_HINT}")
                return None
            collections.append(COLLECTIONS[key])
        return collections

    def exercise(self, op: Operation) -> None:
        if op.method not in HTTP_METHODS:
            return  # reported as not exercised
        collections = self.collections_of(op)
        if collections is None:
            return
        if op.path_params:
            self.object_operation(op, collections)
        elif op.method == "get":
            self.list_operation(op, collections[0], own_list=op.path in COLLECTIONS)
        else:
            self.collection_write(op, collections[0])
        self.exercised.add((op.path, op.method))

    def url(self, op: Operation, values: list) -> str:
        url = op.path
        for (name, _schema), value in zip(op.path_params, values, strict=True):
            url = url.replace("{" + name + "}", str(value))
        return url

    def object_operation(self, op: Operation, collections: list[Collection]) -> None:
        parents = [c.first(self.a) for c in collections[:-1]]
        a_urls = [self.url(op, [*parents, obj]) for obj in collections[-1].objects(self.a)]
        missing_url = self.url(op, [missing_value(schema) for _name, schema in op.path_params])
        hidden = any(self.hidden_from_actor(c) for c in collections)
        allowed = self.role_allows(op.method, missing_url)
        if op.method == "get":
            bodies = [("no body", None)]
        else:
            bodies = [("empty body", {}), ("body referring to A", write_bodies(self.a)[0].to_a)]
        for what, body in bodies:
            on_missing = self.send(op, missing_url, f"missing id, {what}", collections=collections, body=body)
            for a_url in a_urls:
                where = f"A's {a_url}, {what}"
                on_a = self.send(op, a_url, where, collections=collections, body=body)
                if not hidden or on_a is None:
                    continue
                if on_missing is not None and answer(on_a) != answer(on_missing):
                    self.fail(
                        op,
                        where,
                        f"A's object answers {answer(on_a)}, a missing id {answer(on_missing)}: "
                        "its existence is revealed",
                    )
                if on_a.status_code not in ANSWERS_HIDING_AN_OBJECT:
                    self.fail(op, where, f"A's object answers {on_a.status_code}, not 403/404/405")
                elif allowed and on_a.status_code != 404:
                    self.fail(
                        op,
                        where,
                        f"the role may do this, so A's object must be a 404, not {on_a.status_code}",
                    )
        # Positive control: the actor reaches B's own object, so the 404s above are tenancy at work.
        is_detail = op.path.endswith("{" + op.path_params[-1][0] + "}/")
        if op.method == "get" and is_detail and allowed:
            b_url = self.url(op, [c.first(self.b) for c in collections])
            on_b = self.send(op, b_url, "B's own object", collections=collections)
            if on_b is not None and on_b.status_code != 200:
                self.fail(
                    op, b_url, f"B's own object answers {on_b.status_code}, not 200 (is the registry right?)"
                )

    def list_operation(self, op: Operation, collection: Collection, *, own_list: bool) -> None:
        allowed = self.role_allows(op.method, op.path)
        page = {"page_size": settings.API_MAX_PAGE_SIZE} if "page_size" in op.query_params else {}
        probes = [("no filter", {})]
        probes += [(f"?{k}=A's", {k: v}) for k, v in query_probes(self.a).items() if k in op.query_params]
        for what, query in probes:
            echoed = frozenset(str(v) for v in query.values())  # the caller's own input is no leak
            response = self.send(
                op, op.path, what, collections=[collection], query=page | query, echoed=echoed
            )
            if response is None:
                continue
            expected = {200} if allowed else ANSWERS_HIDING_AN_OBJECT
            if response.status_code not in expected:
                self.fail(op, what, f"answered {response.status_code}, expected one of {sorted(expected)}")
            rows = list_rows(response) if response.status_code == 200 and own_list else None
            if rows is None:
                continue
            ids = {row.get("id") for row in rows if isinstance(row, dict)}
            if self.hidden_from_actor(collection) and (shown := ids & collection.ids(self.a)):
                self.fail(op, what, f"lists A's objects {sorted(shown)}")
            if not query and collection.first(self.b) not in ids:
                self.fail(
                    op, what, "does not list B's own object, so proves nothing (is the registry right?)"
                )

    def collection_write(self, op: Operation, collection: Collection) -> None:
        for body in write_bodies(self.a):
            self.send(op, op.path, body.what, collections=[collection], body=body.to_a)

    # Existence oracles: a reference to A's object must answer like one to a missing object ------
    def filter_oracle(self, op: Operation) -> None:
        for name, value in query_probes(self.a).items():
            if name not in op.query_params or not isinstance(value, int):
                continue
            on_a, on_missing = self.api.get(op.path, {name: value}), self.api.get(op.path, {name: MISSING_ID})
            seen = [(r.status_code, len(list_rows(r) or [])) for r in (on_a, on_missing)]
            if seen[0] != seen[1]:
                self.fail(
                    op,
                    f"?{name}=",
                    f"filtered on A's id answers (status, rows) {seen[0]}, on a missing id {seen[1]}: "
                    "its existence is revealed",
                )

    def body_oracle(self, op: Operation) -> None:
        for body in write_bodies(self.a):
            if not all(self.hidden_from_actor(COLLECTIONS[key]) for key in body.refers_to):
                continue  # e.g. nodes: staff may know every node
            on_a = getattr(self.api, op.method)(op.path, body.to_a, format="json")
            on_missing = getattr(self.api, op.method)(op.path, body.to_missing, format="json")
            if answer(on_a) != answer(on_missing):
                self.fail(
                    op,
                    body.what,
                    f"referring to A's objects answers {answer(on_a)}, to missing ones "
                    f"{answer(on_missing)}: their existence is revealed",
                )


def make_probe(actor_name: str, tenant_a, tenant_b) -> Probe:
    a, b = build_side(tenant_a, "A"), build_side(tenant_b, "B")
    api, actor = ACTORS[actor_name](b)
    return Probe(a=a, b=b, actor_name=actor_name, api=api, actor=actor, baseline=snapshot(a))


def _actor_id(name: str) -> str:
    return name.removeprefix("B's ").replace(" (", "-").replace(")", "").replace(" ", "-")


@pytest.mark.parametrize("actor_name", list(ACTORS), ids=_actor_id)
def test_tenant_b_actors_never_see_nor_change_tenant_a(actor_name, tenant_a, tenant_b):
    probe = make_probe(actor_name, tenant_a, tenant_b)
    operations = schema_operations()

    for op in operations:
        probe.exercise(op)
    probe.check_nothing_written("the GET operations (writes are checked one by one)")

    reported = {f.split(" as ", 1)[0] for f in probe.failures}
    for op in operations:
        if (op.path, op.method) not in probe.exercised and str(op) not in reported:
            probe.failures.append(f"{op}: in the schema but not exercised by the matrix")
    paths = {op.path for op in operations}
    for key in COLLECTIONS:
        if not any(path.startswith(key) for path in paths):
            probe.failures.append(
                f"{key}: registered in COLLECTIONS but not in the schema (renamed? remove it)"
            )
    assert probe.exercised, "the schema lists no operation"
    assert not probe.failures, f"{len(probe.failures)} tenancy failures:\n" + "\n".join(probe.failures)


ORACLES = ["list filters", "write bodies"]


@pytest.mark.parametrize("kind", ORACLES)
def test_references_to_tenant_a_answer_like_references_to_missing_ids(kind, tenant_a, tenant_b):
    """A list filtered on A's id, or a body naming A's objects, must answer exactly like one naming
    ids that do not exist (same status, same rows, same fields in error): else B learns which exist."""
    a, b = build_side(tenant_a, "A"), build_side(tenant_b, "B")
    operations = [op for op in schema_operations() if not op.path_params]
    failures = []
    for actor_name, make in ACTORS.items():
        api, actor = make(b)
        probe = Probe(a=a, b=b, actor_name=actor_name, api=api, actor=actor)
        for op in operations:
            if op.method == "get" and kind == "list filters":
                probe.filter_oracle(op)
            elif op.method != "get" and kind == "write bodies" and probe.collections_of(op):
                probe.body_oracle(op)
        failures += probe.failures
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("manager", [AuditEvent.objects, APIKey.objects], ids=["AuditEvent", "APIKey"])
def test_scoped_manager_fails_closed_outside_any_scope(db, manager):
    with scope(_enabled=True), pytest.raises(ScopeError):
        list(manager.all())
