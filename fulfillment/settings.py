"""One settings module, driven by environment variables (django-environ).

With no environment at all the platform runs on the embedded default: SQLite and Celery's
filesystem transport under ``var/``. ``DATABASE_URL``, ``REDIS_URL`` (or ``CELERY_BROKER_URL``),
``SECRET_KEY``, ``ALLOWED_HOSTS``, ``EMAIL_URL`` and ``DEBUG`` switch to production services.
The README's configuration table lists every variable read here.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

VAR_DIR = Path(env("FULFILLMENT_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)


def _embedded_secret_key() -> str:
    """A per-checkout random key kept in var/, so even the embedded default never runs on a known key."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _embedded_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "fulfillment",
    "accounts",
    "inventory",
    "orders",
    "shipments",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "fulfillment.tenancy.TenantScopeMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fulfillment.urls"
WSGI_APPLICATION = "fulfillment.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}


def _tune(db: dict) -> dict:
    if db["ENGINE"].endswith("sqlite3"):
        # Web, worker and beat share one file: WAL lets readers work beside a writer, and
        # IMMEDIATE transactions make a writer wait for the lock instead of failing mid-transaction.
        db.setdefault("OPTIONS", {}).update(
            {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
        )
    else:
        db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        db["CONN_HEALTH_CHECKS"] = True
        if db["ENGINE"] == "django.db.backends.postgresql":
            db["ENGINE"] = "fulfillment.postgresql"  # health checks for idle connections only
    return db


_tune(DATABASES["default"])
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = _tune(env.db("DATABASE_REPLICA_URL"))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["fulfillment.db.ReportingReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3

# Login throttling (django-axes): lock an e-mail + IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Cache, e-mail -----------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", default="fulfillment")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, with one Redis client per connection pool (fulfillment/cache.py).
            "BACKEND": "fulfillment.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
else:
    # Web, worker and beat are separate processes: a file cache is shared by all of them.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
SITE_URL = env("SITE_URL", default=f"http://127.0.0.1:{env('PORT', default='8000')}")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Fulfillment <no-reply@fulfillment.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (production = DEBUG off) ---------------------------------------------------------
SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API ----------------------------------------------------------------------------------
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_MAX_PAGE_SIZE = 500
# A list's `count` is exact up to this many rows, null above (fulfillment.api.pagination).
API_COUNT_LIMIT = env.int("API_COUNT_LIMIT", default=10_000)
IDEMPOTENCY_KEY_TTL_HOURS = 24
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["fulfillment.api.permissions.IsActor"],
    "DEFAULT_PAGINATION_CLASS": "fulfillment.api.pagination.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "fulfillment.api.filters.StableOrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["fulfillment.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "principal": env("API_THROTTLE_RATE", default="1200/min"),
        "anonymous": env("API_ANON_THROTTLE_RATE", default="60/min"),
    },
    "EXCEPTION_HANDLER": "fulfillment.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "fulfillment.api.schema.PlatformAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fulfillment API",
    "DESCRIPTION": (
        "The 3PL fulfillment platform's REST API. Authenticate with `Authorization: Bearer <key>`; "
        "a brand's key sees its own data only. Errors share one shape: "
        '`{"error": {"code": "...", "message": "...", "fields": {"field": ["..."]}}}`. '
        "Every POST accepts an `Idempotency-Key` header (kept 24 hours)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.enums.Role",
        "KeyScopeEnum": "accounts.enums.KeyScope",
        "ASNStatusEnum": "inventory.enums.ASNStatus",
        "CountStatusEnum": "inventory.enums.CountStatus",
        "TransferStatusEnum": "inventory.enums.TransferStatus",
        "AdjustmentCodeEnum": "inventory.enums.AdjustmentCode",
        "MoveReasonEnum": "inventory.enums.MoveReason",
        "MilestoneKindEnum": "inventory.enums.MilestoneKind",
        "LocationTypeEnum": "inventory.enums.LocationType",
        "ReceiptConditionEnum": "inventory.enums.ReceiptCondition",
        "CycleCountKindEnum": "inventory.models.CycleCount.Kind",
        "BarcodeKindEnum": "inventory.models.ItemBarcode.Kind",
        "OrderStatusEnum": "orders.enums.OrderStatus",
        "HoldKindEnum": "orders.enums.HoldKind",
        "DeliveryStatusEnum": "shipments.enums.DeliveryStatus",
        "EventTypeEnum": "shipments.enums.EventType",
        "ShipmentStatusEnum": "shipments.enums.ShipmentStatus",
        "TrackingStatusEnum": "shipments.enums.TrackingStatus",
        "AlertStatusEnum": "reporting.alert_selectors.ALERT_STATUS_CHOICES",
        "OrderErrorKindEnum": "reporting.enums.OrderErrorKind",
        "ExportKindEnum": "reporting.enums.ExportKind",
        "ExportStatusEnum": "reporting.enums.ExportStatus",
    },
}

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _control_dir = VAR_DIR / "celery" / "control"
    for _d in (_queue_dir, _processed_dir, _control_dir):
        _d.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
else:
    # Longer than any countdown or ETA we use, so a slow task is not redelivered while it runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, reusing its publishing client (fulfillment/celery.py).
    CELERY_BROKER_TRANSPORT = "fulfillment.celery:RedisTransport"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {
        "task": "fulfillment.tasks.purge_idempotency_keys",
        "schedule": 15 * 60,
    },
    "inventory-snapshots": {
        # Hourly at :05, so each node is snapshotted within the hour after its local midnight.
        "task": "inventory.tasks.take_inventory_snapshots",
        "schedule": crontab(minute=5),
    },
    "deliver-due-webhooks": {
        # Picks up webhook retries whose delay was longer than a countdown (or whose task was lost).
        "task": "shipments.tasks.deliver_due_webhooks",
        "schedule": 60,
    },
    # The received orders that their own allocation task left (lost, failed) or a peak backlog:
    # drained in batches (orders.tasks.allocate_waiting; side by side when runs overlap).
    "allocate-waiting": {"task": "orders.tasks.allocate_waiting", "schedule": 60},
    "low-stock-sweep": {
        "task": "shipments.tasks.low_stock_sweep",
        "schedule": crontab(minute=35),
    },
    # The alert sweeps (reporting.alert_tasks); each run is idempotent, none uses a countdown.
    # Daily: export files older than EXPORT_RETENTION_DAYS are deleted (reporting.export_tasks).
    "purge-exports": {"task": "reporting.export_tasks.purge_exports", "schedule": crontab(hour=9, minute=0)},
    "alerts-orders": {"task": "reporting.alert_tasks.sweep_order_alerts", "schedule": 60},
    "alerts-inbound-and-shipments": {"task": "reporting.alert_tasks.sweep_flow_alerts", "schedule": 5 * 60},
    "alerts-stock": {"task": "reporting.alert_tasks.sweep_stock_alerts", "schedule": crontab(minute=40)},
    # The nightly KPI rollup (reporting.tasks.rollup_kpis, idempotent): 10:15 UTC is after midnight
    # in every US time zone and after that hour's :05 inventory snapshots, so each client's
    # yesterday is complete and snapshotted, and before the 10:30 KPI alert sweep reads it.
    "kpi-rollup": {
        "task": "reporting.tasks.rollup_kpis",
        "schedule": crontab(hour=10, minute=15),
    },
    # 10:30 UTC: after midnight in every US time zone (Hawaii's is 10:00 UTC), so each client's
    # yesterday is complete.
    "alerts-kpis": {
        "task": "reporting.alert_tasks.sweep_kpi_alerts",
        "schedule": crontab(hour=10, minute=30),
    },
    # 12:00 UTC is 7 am (EST) / 8 am (EDT) on the US East Coast: the account managers' morning.
    "alerts-digest": {
        "task": "reporting.alert_tasks.send_alert_digest",
        "schedule": crontab(hour=12, minute=0),
    },
}

# --- Outbound webhooks (shipments.webhooks) ----------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=20)
# Retries due sooner than this go out as a Celery countdown (well under the broker's visibility
# timeout); later ones are picked up by the every-minute sweep.
WEBHOOK_MAX_COUNTDOWN_SECONDS = 3600
# http:// URLs and private, loopback or link-local hosts (SSRF): allowed only in development.
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=DEBUG)
WEBHOOK_REPLAY_MAX_EVENTS = 10_000
# The feed lists an event once it is this old, so an event that committed after a newer one is
# not skipped by a reader's cursor (see the README).
EVENTS_FEED_SETTLE_SECONDS = env.float("EVENTS_FEED_SETTLE_SECONDS", default=2.0)

# --- CSV exports (reporting.exports) -----------------------------------------------------------
# Files of background exports: <job id>-<kind>.csv, downloaded by whoever asked for them.
EXPORTS_DIR = VAR_DIR / "exports"
# An export job's file is deleted this many days after it was written (the job stays, "expired").
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=7)
# Hours a rotated webhook secret still signs (a second signature beside the new one's).
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
# An export with more rows than this runs as a Celery job instead of streaming in the request.
EXPORT_STREAM_MAX_ROWS = env.int("EXPORT_STREAM_MAX_ROWS", default=50_000)

# --- Logging -----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
