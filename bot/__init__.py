"""Channels (SMTP, IMAP, Telegram), the message pipeline, the CLI and service wiring."""
