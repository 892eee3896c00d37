"""A small notes service with a development and a production image."""
