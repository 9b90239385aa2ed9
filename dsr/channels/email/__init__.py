"""E-mail in: the SMTP endpoint and the IMAP poller."""
