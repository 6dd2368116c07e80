"""The user-facing error types of files a user hands in (datasets, checkpoints), importable
without torch: the scripts catch them and print their one line."""

__all__ = ["DatasetFormatError", "CheckpointError"]


class DatasetFormatError(ValueError):
    """A dataset file is missing or malformed; the message names the file and the field."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model built from the config;
    the message names the file."""
