"""Tickets: services (open, state machine, extension), catalogue, queries and facts."""
