"""Wiring of `dsr serve`: the event loop with every channel, the console, sender and scheduler."""
