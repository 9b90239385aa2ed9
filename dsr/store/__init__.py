"""Persistence only: models, migrations, tickets, outbox, audit, suppression, subjects, accounts."""
