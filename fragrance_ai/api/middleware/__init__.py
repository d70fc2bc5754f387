"""Everything between the socket and the routes: identity, limits, idempotency, metrics,
outages as 503, request ids, 405s. guards.py installs them in order."""
