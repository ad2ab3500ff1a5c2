"""Event ingest: body decoding, publishing to the bus, and persistence consumers."""
