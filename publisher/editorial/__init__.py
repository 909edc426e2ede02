"""The editorial side: items and their workflow transitions (draft → review → approval →
release, abolition, withdrawal), users and roles, the audit chain, index numbers, and the
editorial service that owns the transactions. Imports the domain and the store; never a
channel adapter, the delivery engine or Celery."""
