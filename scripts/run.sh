#!/usr/bin/env bash
# What `make run` runs once the virtualenv is installed: migrate, load the demo (idempotent),
# collect static files, then web + Celery worker + Celery beat under honcho. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PORT="${PORT:-8000}"

$PY manage.py migrate --noinput -v0
$PY manage.py seed_demo
$PY manage.py collectstatic --noinput -v0

cat <<BANNER

  Fulfillment platform: http://127.0.0.1:${PORT}
  Console and portal at /, API docs at /api/docs/, admin at /admin/
  Database: ${DATABASE_URL:-embedded SQLite in var/}   Broker: ${CELERY_BROKER_URL:-${REDIS_URL:-Celery filesystem transport in var/}}
  Press Ctrl-C to stop web, worker and beat.

BANNER
exec .venv/bin/honcho start -f Procfile -p "$PORT"
