"""Pages of the shipments app: the floor (waves, picking, the pack station), the console
(shipments, exceptions, manifests) and the portal (shipments, webhooks)."""

urlpatterns = []
