"""Telegram: the bot adapter, delivery of chat replies and the conversation."""

import os

# python-telegram-bot 22.2+ warns (PTBDeprecationWarning) whenever a time period such as
# `RetryAfter.retry_after` is read as an int, and its own `RetryAfter.__init__` reads it, so
# every Telegram 429 warned whatever our handler did.  `PTB_TIMEDELTA` is PTB's documented opt-in
# to the coming behaviour (periods are `datetime.timedelta`); set before any bot call is made.
# An operator's explicit value is kept.
os.environ.setdefault("PTB_TIMEDELTA", "true")
