"""Alembic migrations of the Deskmate store (run by ``Store.migrate``)."""
