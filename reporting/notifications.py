"""Alert e-mail (Django's mail: the console backend unless ``EMAIL_URL`` says otherwise).

- Immediate: a critical alert, once announced by its sweep (``notified_at`` claimed there), is
  mailed to the client's account managers: one message per alert, up to ``MAIL_EACH_UP_TO`` alerts
  of one client in one sweep; above that (a storm: a carrier outage, a node down) one summary
  message for the client, with the first few alerts, the count and a link to the client's inbox.
- Daily digest: each account manager gets the alerts of their clients opened since the last
  digest (per client the count and the first ``DIGEST_EACH_UP_TO``). The alerts are claimed first
  (``digested_at`` set under a row lock, in one transaction), then the messages are sent after commit, so two digest runs never mail the same
  alert twice; a crash between commit and sending loses that digest rather than repeating it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.enums import Role
from accounts.models import Client

from .alerts import ids_param, ids_sql, update_locked
from .models import Alert


def _link(alert: Alert) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("console-alert", args=[alert.pk])


def _managers_by_client(client_ids) -> dict[int, list[tuple[int, str, str]]]:
    """client -> [(user id, e-mail, name)] of its active account managers: one query."""
    rows = (
        Client.account_managers.through.objects.filter(
            client_id__in=set(client_ids), user__is_active=True, user__role=Role.ACCOUNT_MANAGER
        )
        .order_by("client_id", "user__email")
        .values_list("client_id", "user_id", "user__email", "user__full_name")
    )
    out: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for client_id, user_id, email, name in rows:
        out[client_id].append((user_id, email, name))
    return out


MAIL_EACH_UP_TO = 10


def send_opened_mail(*, alert_ids: list[int], counts: dict[str, int] | None = None) -> int:
    """Mail the account managers of each alert's client; returns messages sent. Only the first
    ``MAIL_EACH_UP_TO`` alerts of each client are read: a sweep passes those with ``counts`` (client
    id -> critical alerts it opened for the client); without ``counts`` ``alert_ids`` are all the
    alerts, ranked per client by one query."""
    if counts is None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT id, client_id, total FROM (
                    SELECT id, client_id, row_number() OVER (PARTITION BY client_id ORDER BY id) AS rank,
                           count(*) OVER (PARTITION BY client_id) AS total
                    FROM {Alert._meta.db_table} WHERE id IN ({ids_sql()})) ranked
                WHERE rank <= %s
                """,
                [ids_param(alert_ids), MAIL_EACH_UP_TO],
            )
            rows = cursor.fetchall()
        alert_ids = [pk for pk, _client, _total in rows]
        counts = {str(client): total for _pk, client, total in rows}
    with scopes_disabled():
        alerts = list(Alert.objects.filter(pk__in=alert_ids).select_related("client").order_by("pk"))
    for alert in alerts:
        alert.of = counts[str(alert.client_id)]
    managers = _managers_by_client(a.client_id for a in alerts)
    per_client: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        per_client[alert.client_id].append(alert)
    sent = 0
    for client_id, theirs in per_client.items():
        recipients = [email for _id, email, _name in managers.get(client_id, [])]
        if not recipients:
            continue
        if theirs[0].of > MAIL_EACH_UP_TO:
            sent += _send_storm(theirs, theirs[0].of, recipients)
            continue
        for alert in theirs:
            body = render_to_string("emails/alert_opened.txt", {"alert": alert, "link": _link(alert)})
            sent += send_mail(
                subject=f"[{alert.get_severity_display()}] {alert.client.name}: {alert.title}"[:200],
                message=body,
                from_email=None,
                recipient_list=recipients,
            )
    return sent


def _send_storm(first: list[Alert], count: int, recipients: list[str]) -> int:
    """One message for many critical alerts of one client opened by one sweep: ``first`` are
    the first few of ``count``."""
    client = first[0].client
    inbox = (
        settings.SITE_URL.rstrip("/")
        + reverse("console-alerts")
        + f"?client={client.pk}&severity={first[0].severity}&status=open"
    )
    body = render_to_string(
        "emails/alert_storm.txt",
        {
            "client": client,
            "count": count,
            "first": [(a, _link(a)) for a in first],
            "more": count - len(first),
            "inbox": inbox,
        },
    )
    return send_mail(
        subject=f"[Critical] {client.name}: {count} new alerts"[:200],
        message=body,
        from_email=None,
        recipient_list=recipients,
    )


DIGEST_EACH_UP_TO = 20


def send_digest(*, now: datetime | None = None) -> int:
    """Claim every alert not yet in a digest (one UPDATE on the rows locked first), then mail each
    account manager those of their clients (a manager of no alerted client gets nothing): per
    client the count, how many are still open, and the first ``DIGEST_EACH_UP_TO`` alerts, with a
    link to the client's alerts for the rest (a storm day stays a readable message, and the task
    reads a few rows per client whatever the count). Returns messages sent."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = update_locked(
            "digested_at = %s",
            [now],
            where="digested_at IS NULL",
            where_params=[],
            returning="id, client_id, opened_at, resolved_at",
        )
    if not claimed:
        return 0
    per_client: dict[int, list[tuple]] = defaultdict(list)
    for pk, client_id, opened_at, resolved_at in claimed:
        per_client[client_id].append((opened_at, pk, resolved_at is None))
    shown = []
    for rows in per_client.values():
        rows.sort()
        shown += [pk for _opened, pk, _open in rows[:DIGEST_EACH_UP_TO]]
    with scopes_disabled():
        alerts = list(Alert.objects.filter(pk__in=shown).select_related("client").order_by("opened_at", "pk"))
    by_client: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_client[alert.client_id].append(alert)
    managers = _managers_by_client(per_client)
    alerts_url = settings.SITE_URL.rstrip("/") + reverse("console-alerts")
    sections = {}
    for client_id, rows in per_client.items():
        theirs = by_client[client_id]
        sections[client_id] = {
            "client": theirs[0].client,
            "total": len(rows),
            "open": sum(1 for _opened, _pk, is_open in rows if is_open),
            "rows": [(a, _link(a)) for a in theirs],
            "more": len(rows) - len(theirs),
            "inbox": f"{alerts_url}?client={client_id}",
        }
    per_manager: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for client_id, section in sections.items():
        for _id, email, name in managers.get(client_id, []):
            per_manager[(email, name)].append(section)
    sent = 0
    for (email, name), theirs in sorted(per_manager.items()):
        theirs.sort(key=lambda section: section["client"].name)
        total = sum(section["total"] for section in theirs)
        body = render_to_string(
            "emails/alert_digest.txt",
            {
                "name": name or email,
                "total": total,
                "open_count": sum(section["open"] for section in theirs),
                "clients": theirs,
                "inbox": alerts_url,
                "now": now,
            },
        )
        sent += send_mail(
            subject=f"Alert digest: {total} new alert{'s' if total != 1 else ''}",
            message=body,
            from_email=None,
            recipient_list=[email],
        )
    return sent
