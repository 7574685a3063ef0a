"""Deskmate service: settings, the Searcher, the HTTP API and the CLI root."""
