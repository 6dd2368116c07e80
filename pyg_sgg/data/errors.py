"""The dataset error type, importable without torch (the scripts catch it)."""

__all__ = ["DatasetFormatError"]


class DatasetFormatError(ValueError):
    """A dataset file is missing or malformed; the message names the file and the field."""
