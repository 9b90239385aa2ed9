"""The pipeline: inbound message -> ticket, decision and replies in one transaction."""
