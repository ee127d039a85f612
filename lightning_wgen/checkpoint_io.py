"""Checkpoint files that are either the old one or the whole new one, never a torn mixture, and
read without unpickling code (:func:`read_checkpoint`).

Lightning's own writer goes through an fsspec transaction whose temporary file lies in the
system's temporary folder; when that is another file system than the checkpoint's (a tmpfs
``/tmp``, a network home), committing it copies the bytes into the checkpoint's own path, and a
kill during that copy leaves a truncated checkpoint. :func:`atomic_write` instead writes a
temporary file beside the target, flushes it to disk and renames it over the target (a rename
within one folder is atomic on POSIX and Windows), then flushes the folder entry.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lightning_wgen.errors import CheckpointWriteError, ConfigError, first_line

CHUNK_BYTES = 1 << 24
# what a full disk, a quota, a file-size limit or a read-only folder raise
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def atomic_write(
    path: str | os.PathLike, data: bytes | memoryview, elsewhere: str | None = None
) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of
    ``data`` at every moment, also when the process is killed mid-write. The temporary file of
    an interrupted write (``.<name>.<pid>.*.tmp`` beside it) is removed by the next write once
    its process is gone; another live process's write in progress is left alone. Every file
    the package writes for later reading (checkpoints, zoo files, the manifest, feature caches,
    unpacked data) goes through here.

    A write the file system refuses (full, over quota, read-only) raises
    :class:`~lightning_wgen.errors.CheckpointWriteError`, one line with the bytes it needed and
    how to write the file to another place (``elsewhere``; default: a checkpoint's advice);
    ``path`` keeps its old content.
    """
    path = Path(path)
    try:
        _write_beside(path, data)
    except OSError as err:
        if err.errno not in (*NO_ROOM, errno.EACCES, errno.EROFS, errno.EPERM):
            raise
        message = _refusal(path, len(memoryview(data)), err, elsewhere)
        raise CheckpointWriteError(message) from None
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        if not _writer_alive(stale.name[len(path.name) + 2 :].split(".")[0]):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


def _writer_alive(pid: str) -> bool:
    """Whether the process that named a temporary file ``.<name>.<pid>.*.tmp`` still runs on
    this machine (a name without a pid counts as a dead writer's)."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def atomic_save(
    path: str | os.PathLike, save: Callable[[io.BytesIO], Any], elsewhere: str | None = None
) -> None:
    """``save(buffer)`` (``torch.save``, ``np.save``, PIL's ``Image.save``, ...) into memory,
    then :func:`atomic_write` of the bytes to ``path``."""
    buffer = io.BytesIO()
    save(buffer)
    atomic_write(path, buffer.getbuffer(), elsewhere)


def _refusal(path: Path, size: int, err: OSError, elsewhere: str | None) -> str:
    previous = f"the previous {path.name} is intact" if path.exists() else f"no {path.name} existed"
    reason = (err.strerror or type(err).__name__).lower()
    if err.errno in NO_ROOM:
        folder = next((p for p in (path.parent, *path.parents) if p.exists()), path.parent)
        free = shutil.disk_usage(folder).free
        advice = elsewhere or (
            "write the run elsewhere (--trainer.logger.init_args.save_dir) and resume from the "
            "previous file"
        )
        return (
            f"could not write {path}: {reason} ({size / 1e6:.2f} MB needed, {free / 1e6:.2f} MB "
            f"free there); {previous}. Free some space, or {advice}."
        )
    advice = elsewhere or (
        "write the run to a folder you can write to (--trainer.logger.init_args.save_dir)"
    )
    return f"could not write {path}: {reason}; {previous}. {advice[0].upper()}{advice[1:]}."


def _write_beside(path: Path, data: bytes | memoryview) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    try:
        view = memoryview(data)
        for start in range(0, len(view), CHUNK_BYTES):
            chunk = view[start : start + CHUNK_BYTES]
            while chunk:
                chunk = chunk[os.write(fd, chunk) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temporary, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO`` with local files written by :func:`atomic_write`
    (remote URLs keep Lightning's writer). ``wgen`` trainers use it unless the config brings a
    checkpoint plugin; with a plain ``Trainer``, pass ``plugins=[AtomicCheckpointIO()]``."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_save(path, lambda buffer: torch.save(checkpoint, buffer))


# -- reading --------------------------------------------------------------------------------------


def read_checkpoint(ckpt: Path, flag: str = "--ckpt") -> dict:
    """The contents of a ``wgen fit`` checkpoint, loaded without unpickling code
    (``torch.load(weights_only=True)``); one line if it is missing or not a checkpoint, saying
    what the file is instead (:func:`describe_unloadable`)."""
    if not ckpt.is_file():
        raise ConfigError(f"{flag} {ckpt} is not a file; pass a checkpoint of `wgen fit`.")
    raw = ckpt.read_bytes()
    try:
        checkpoint = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(
            f"{flag} {ckpt} {describe_unloadable(raw, err)}; pass a checkpoint of `wgen fit`."
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(
            f"{flag} {ckpt} holds no state_dict, so it is not a Lightning checkpoint; pass a "
            "checkpoint of `wgen fit`."
        )
    return checkpoint


# torch.load(weights_only=True) names the first object it refused: "Unsupported global: GLOBAL x"
FOREIGN = re.compile(r"Unsupported (?:global|class): (?:GLOBAL )?([\w.]+)")


def describe_unloadable(raw: bytes, err: Exception) -> str:
    """What a file that ``torch.load(weights_only=True)`` refused is, from its bytes: empty, text,
    a truncated torch archive or pickle, a pickle holding other objects (which could run code),
    or some other format."""
    if not raw:
        return "is empty (0 bytes)"
    foreign = FOREIGN.search(str(err))
    if foreign:
        return (
            f"holds Python objects other than tensors and plain values ({foreign[1]}), which are "
            "not unpickled because that could run code (torch.load(weights_only=True))"
        )
    if raw[:4] == b"PK\x03\x04":  # torch.save's zip archive
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return (
                f"is a truncated or damaged torch checkpoint ({len(raw)} bytes, its zip archive "
                "has no end: was a copy or download cut short?)"
            )
        if not any(name.endswith("/data.pkl") for name in names):
            return "is a zip archive, not a torch checkpoint"
        return f"is a damaged torch checkpoint ({first_line(err)})"
    if raw[:1] == b"\x80":  # a pickle (torch's legacy format)
        return f"is a truncated or damaged pickle ({first_line(err)})"
    head = raw[:400]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\n\r\t" for c in text):
        start = " ".join(text.split())[:40]
        return f"is a text file, not a checkpoint (it begins {start!r})"
    return f"is not a checkpoint (an unknown binary format, beginning {raw[:8].hex()})"
