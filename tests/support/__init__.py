"""Helpers shared by the tests: clocks, mails, seeded worlds, service starters (no fixtures, no tests)."""
