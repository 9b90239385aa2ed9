"""Classification of inbound messages into data-subject rights (pure: no network, no database)."""
