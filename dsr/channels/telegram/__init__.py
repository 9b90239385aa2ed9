"""Telegram: the bot adapter, delivery of chat replies and the conversation."""
