"""Deskmate indexer: Markdown articles in, an immutable index snapshot out."""
