from rest_framework import permissions

from accounts.roles import Perm


class IsActor(permissions.BasePermission):
    """Authenticated, and a read-only key may only read.

    With ``perms`` on the view (action -> Perm, or a tuple of Perms of which one suffices), the
    actor's role must hold the action's permission; an action missing from the map is refused
    (fail closed).
    """

    message = "Authentication credentials were not provided."

    def has_permission(self, request, view) -> bool:
        actor = getattr(request, "actor", None)
        if actor is None:
            return False
        if actor.read_only and request.method not in permissions.SAFE_METHODS:
            self.message = "This API key is read-only."
            return False
        perms: dict[str, Perm | tuple[Perm, ...]] | None = getattr(view, "perms", None)
        if perms is None:
            return True
        action = getattr(view, "action", None)
        if action is None:
            return True  # a method the view does not offer: DRF answers 405 and runs nothing
        needed = perms.get(action)
        if isinstance(needed, Perm):
            needed = (needed,)
        if not needed or not any(actor.can(perm) for perm in needed):
            self.message = "Your role may not do this."
            return False
        return True
