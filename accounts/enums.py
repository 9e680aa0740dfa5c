from django.db import models


class Role(models.TextChoices):
    OPERATOR_ADMIN = "operator_admin", "Operator admin"
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    WAREHOUSE_OPERATOR = "warehouse_operator", "Warehouse operator"
    CLIENT_ADMIN = "client_admin", "Client admin"
    CLIENT_USER = "client_user", "Client user"


STAFF_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.ACCOUNT_MANAGER, Role.WAREHOUSE_OPERATOR})
CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_USER})


class KeyScope(models.TextChoices):
    READ_WRITE = "read_write", "Read and write"
    READ_ONLY = "read_only", "Read only"
