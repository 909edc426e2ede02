"""The store: engines and sessions (`db`), the ORM mapping (`models`), the Alembic
migrations, and the dialect-specific fast SQL of the hot transitions (`outbox`). Imports the
domain only; everything that reads or writes the database goes through the services."""
