"""Persistence: models, database engine, tickets and their state machine, and the deadline engine."""
