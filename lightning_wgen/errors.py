"""The library's error types: each carries one line that says what was wrong and how to fix it."""


class WGenError(Exception):
    """Base of lightning-wgen's errors; the ``wgen`` command prints them as one line."""


class ConfigError(WGenError, ValueError):
    """A configuration value outside its allowed range."""


class DatasetNotFoundError(WGenError, FileNotFoundError):
    """A data set is not on disk and could not be downloaded."""


class CorruptImageError(WGenError, OSError):
    """An image file that cannot be decoded."""


class TrainingDivergedError(WGenError, FloatingPointError):
    """A loss became infinite or NaN during training."""


class TrainingInterrupted(WGenError):
    """Training stopped by Ctrl-C or SIGTERM after ``last.ckpt`` was written; ``exit_code`` is
    the shell's code for the signal (130, 143)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class CheckpointWriteError(WGenError, OSError):
    """A checkpoint that could not be written (a full disk, a read-only folder); the previous
    file is left as it was."""


def first_line(err: BaseException) -> str:
    """The first non-empty line of another library's error, or its type's name."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def one_line(err: WGenError) -> str:
    """The error's own line, also when a DataLoader worker re-raised it inside its traceback.

    torch re-raises a worker's exception as ``type(err)(text)`` where ``text`` holds the worker's
    whole traceback; the original message is the traceback's last line, after the class name.
    """
    text = str(err)
    if "\n" not in text:
        return text
    prefix = f"{type(err).__module__}.{type(err).__qualname__}: "
    for line in reversed(text.splitlines()):
        if line.startswith(prefix):
            return line[len(prefix) :]
    return text.strip().splitlines()[-1]


class ChecksumError(WGenError, OSError):
    """A checkpoint file whose sha256 is not the one its manifest states."""


class ModelNotFoundError(WGenError, LookupError):
    """A model name that is not in the zoo's manifest."""


class CheckpointNotFoundError(WGenError, FileNotFoundError):
    """A zoo manifest or checkpoint file that is not where it should be."""


class DownloadError(WGenError, ConnectionError):
    """A checkpoint that could not be downloaded."""


def require_at_least(owner: str, minimum: float, **values: float) -> None:
    """Raise :class:`ConfigError` naming the first of ``values`` below ``minimum``."""
    for name, value in values.items():
        if not value >= minimum:
            raise ConfigError(f"{owner}: {name} must be >= {minimum}, got {value}.")
