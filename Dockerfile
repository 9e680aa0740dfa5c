# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FULFILLMENT_VAR_DIR=/var/lib/fulfillment

RUN groupadd --system app && useradd --system --gid app --home-dir /app app \
    && mkdir -p /app /var/lib/fulfillment && chown app:app /var/lib/fulfillment

WORKDIR /app
COPY pyproject.toml README.md ./
COPY fulfillment/__init__.py fulfillment/__init__.py
COPY accounts/__init__.py accounts/__init__.py
RUN pip install .  # dependencies only change with pyproject.toml: a cached layer
COPY . .
RUN pip install --no-deps . \
    && DEBUG=false SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput -v0

USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
# gthread workers with a listening socket each (fulfillment/gunicorn_conf.py); WEB_CONCURRENCY,
# WEB_THREADS, WEB_KEEPALIVE and WEB_TIMEOUT tune them.
CMD ["gunicorn", "fulfillment.wsgi", "--config", "python:fulfillment.gunicorn_conf"]
