"""Every write of the shipments app, by area: ``status`` (shipment and order status), ``waves``,
``picking``, ``packing``, ``shipping`` (labels, voids, manifests), ``tracking``; webhooks in
``shipments.webhooks``."""
