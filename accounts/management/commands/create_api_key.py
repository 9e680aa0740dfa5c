from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.enums import KeyScope
from accounts.models import Client, User
from accounts.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for a client (--client SLUG) or a staff user (--staff EMAIL). "
        "The new key is printed alone on the last line; it is not stored and cannot be shown again."
    )

    def add_arguments(self, parser):
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--client", metavar="SLUG", help="the client the key acts as")
        owner.add_argument("--staff", metavar="EMAIL", help="the staff user the key acts as")
        parser.add_argument("--read-only", action="store_true", help="the key may only read")
        parser.add_argument("--name", default="", help="what the key is for (default: command line)")

    def handle(self, *args, client=None, staff=None, read_only=False, name="", **options):
        owner = {}
        if client:
            try:
                owner["client"] = Client.objects.get(slug=client)
            except Client.DoesNotExist as exc:
                raise CommandError(f"No client with slug “{client}”.") from exc
        else:
            try:
                owner["staff_user"] = User.objects.get(email__iexact=staff)
            except User.DoesNotExist as exc:
                raise CommandError(f"No user with e-mail “{staff}”.") from exc
        try:
            new = api_key_create(
                actor=Actor.system("create_api_key"),
                name=name or "created with manage.py create_api_key",
                scope=KeyScope.READ_ONLY if read_only else KeyScope.READ_WRITE,
                **owner,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        key = new.api_key
        self.stderr.write(
            f"Created {key.get_scope_display().lower()} key “{key.name}” ({key.prefix}…) "
            f"for {key.owner_label}. Store it now: it cannot be shown again."
        )
        self.stdout.write(new.secret)
