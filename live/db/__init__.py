"""The database of record: models, engine, migrations and the error boundary."""
