"""Django's PostgreSQL backend, with the health check asked only of a connection left idle
(``fulfillment.postgresql.base``); ``settings`` names it as the engine for PostgreSQL."""
