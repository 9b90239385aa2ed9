"""Channels: thin adapters between the outside world and the pipeline (e-mail, Telegram, outbox sender)."""
