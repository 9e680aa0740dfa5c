"""Platform-wide records that belong to no single domain app."""

from django.db import models


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one principal (an API key or a user), kept 24 hours.

    The row is committed *before* the request runs, so a concurrent retry sees it (409); the
    request's own writes and the stored response then commit together, so a crash leaves either
    both or neither.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    locked_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="uniq_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key} ({self.state})"
