"""The store: engines and sessions (`db`), the ORM mapping (`models`), the Alembic
migrations, and the dialect-specific fast SQL of the hot transitions (`outbox`: an approval's
version and deliveries; `auditlog`: the audit chain's append; `indexcounter`: the 索取号
counters). Imports the domain only; everything that reads or writes the database goes through the services."""
