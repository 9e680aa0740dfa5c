#!/usr/bin/env bash
# What `make test` runs: the whole suite on PostgreSQL and Redis, in parallel (pytest-xdist).
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fulfillment}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DJANGO_ALLOW_ASYNC_UNSAFE=true  # Playwright's sync API runs an event loop beside the ORM
exec .venv/bin/pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup -q "$@"
