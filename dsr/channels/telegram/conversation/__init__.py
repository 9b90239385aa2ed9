"""The Telegram conversation: states, their handlers and the texts."""
