from django.core.management.base import BaseCommand, CommandError

from reporting.rollup import rollup


class Command(BaseCommand):
    help = (
        "Recompute the KPI rollup (DailyKPI and the shipping breakdowns of DailyShipping) of every "
        "active client for the trailing N complete local days, as the nightly task does for 45. Run "
        "it with a longer window after an upgrade that adds rollup measures, so that older days read "
        "the rollup instead of being counted live."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days-back", type=int, default=45, help="complete local days (default 45)")

    def handle(self, *args, days_back: int = 45, **options):
        if days_back < 1:
            raise CommandError("--days-back must be at least 1.")
        written = rollup(days_back=days_back)
        self.stdout.write(f"{written} client-days rolled up.")
