"""Pure RFC 5322 codec: parsing, MIME walking, text extraction and composing."""
