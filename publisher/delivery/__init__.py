"""Delivery: the ledger (every delivery state change), the engine (claim → render → send →
record), retry and breaker policies, the set of enabled channel adapters (built by kind name
through `channels.registry`, never imported directly), the embedded executor, reconcile, the
channels' live checks (probe), and the delivery service through which people, ops and
providers' callbacks act on deliveries (service). Imports the domain, the store, the
editorial service and `channels.base`/`registry`/`probe`; never Celery or a concrete adapter."""
