"""Alerts as ledger facts, told to ops the way Alertmanager would.

A cause — a ledger transition, a compliance check — writes an `alert_events` row in its own
transaction (`record.record`), in whatever process it runs: the web app, the embedded
executor, a Celery worker or beat, the CLI. The alert clock (`clock.AlertClock.tick`, run after
every sweep of the executor's clock: the embedded sweeper or Celery beat's `publisher.sweep`)
folds the events into groups per (kind, channel), decides what to tell (group_wait,
group_interval, repeat_interval, resolved, silences, inhibition), writes one notification row
per target, and sends the due ones with retries and attempt rows. Nothing lives only in a
process's memory, so a restart or SIGTERM loses no alert. See docs/operations.md "Alerts".

Imports the store and the domain; never an adapter module by name (the senders are found
through `channels.registry.alert_sender`).
"""
