"""The library's error types: each carries one line that says what was wrong and how to fix it."""


class WGenError(Exception):
    """Base of lightning-wgen's errors; the ``wgen`` command prints them as one line."""


class ConfigError(WGenError, ValueError):
    """A configuration value outside its allowed range."""


class DatasetNotFoundError(WGenError, FileNotFoundError):
    """A data set is not on disk and could not be downloaded."""
