from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import ledger_differences, moves_off_their_balance


class Command(BaseCommand):
    help = "Recompute every balance from its moves; exit 1 if any balance disagrees with its ledger."

    def handle(self, *args, **options):
        differences = ledger_differences()
        for d in differences:
            self.stdout.write(
                f"balance {d.balance_id} (client {d.client_id}, {d.sku} at {d.location_code}): "
                f"on hand {d.on_hand}, ledger says {d.ledger_sum} "
                f"(difference {d.on_hand - d.ledger_sum:+d}), allocated {d.allocated}"
            )
        strays = moves_off_their_balance()
        for move_id in strays:
            self.stdout.write(f"move {move_id}: its item, location or lot differ from its balance's")
        if differences or strays:
            raise CommandError(
                f"{len(differences)} balance(s) disagree with the ledger, "
                f"{len(strays)} move(s) with their balance.",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS("Every balance equals the sum of its moves."))
