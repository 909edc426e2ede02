"""Delivery: the ledger (every delivery state change), the engine (claim → render → send →
record), retry and breaker policies, the set of enabled channel adapters (built by kind name
through `channels.registry`, never imported directly), the embedded executor and reconcile.
Imports the domain, the store and `channels.base`; never Celery or a concrete adapter."""
