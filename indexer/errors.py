"""Errors raised by the indexer; the service maps them to problem+json.

Hierarchy::

    DeskmateError
    ├── ArticleError      one article cannot be indexed (reported, then skipped)
    ├── ModelError        the embedding model cannot be loaded or used
    ├── ModelMismatch     a snapshot was built with another model than the one loaded
    └── SnapshotError     a snapshot cannot be written, published or read

Nothing here imports a web framework: ``status``, ``type`` and ``title`` are
plain attributes that the HTTP edge renders.
"""

from __future__ import annotations


class DeskmateError(Exception):
    """Base of every error Deskmate raises on purpose; the message is the detail."""

    status: int = 500
    type: str = "internal"
    title: str = "Internal error"

    @property
    def detail(self) -> str:
        return str(self)


class ArticleError(DeskmateError):
    """An article file is malformed: bad front matter, not UTF-8, empty, too big."""

    status = 422
    type = "invalid-article"
    title = "Invalid article"


class ModelError(DeskmateError):
    """The embedding model cannot be loaded or fails while encoding."""

    status = 500
    type = "model-error"
    title = "Embedding model error"


class ModelMismatch(DeskmateError):
    """The index was built with a different embedding model than the one loaded."""

    status = 503
    type = "model-mismatch"
    title = "Index built with another model"


class SnapshotError(DeskmateError):
    """A snapshot cannot be written, published or loaded."""

    status = 503
    type = "snapshot-error"
    title = "Index snapshot error"
