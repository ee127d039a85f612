"""Where checkpoint files come from and how they are trusted: a local file beside the manifest,
an ``http(s)://`` URL downloaded into the cache, or a Hugging Face Hub reference
``hf://owner/repo/path/in/repo@revision``. Every file is sha256-checked before anything reads it.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
from pathlib import Path

import torch

from lightning_wgen.errors import (
    CheckpointNotFoundError,
    ChecksumError,
    ConfigError,
    DownloadError,
)
from lightning_wgen.metrics.features import file_sha256

HF_PREFIX = "hf://"


def wgen_home() -> Path:
    """``$WGEN_HOME``, by default ``~/.cache/lightning_wgen``; downloads go to its
    ``checkpoints/`` folder."""
    return Path(os.environ.get("WGEN_HOME") or Path.home() / ".cache" / "lightning_wgen")


def is_remote(location: str) -> bool:
    return location.startswith(("http://", "https://", HF_PREFIX))


def parse_hf_reference(reference: str) -> tuple[str, str, str | None]:
    """``hf://owner/repo/path/file.safetensors@revision`` as ``(repo_id, filename, revision)``;
    the revision (a branch, tag or commit) is optional."""
    body = reference[len(HF_PREFIX) :] if reference.startswith(HF_PREFIX) else ""
    body, _, revision = body.partition("@")
    parts = body.split("/")
    if len(parts) < 3 or not all(parts):
        raise ConfigError(
            f"bad Hugging Face reference {reference!r}: write hf://owner/repo/path/in/repo"
            "[@revision], e.g. hf://me/wgen-models/wgan-gp-mnist.safetensors@v1."
        )
    return "/".join(parts[:2]), "/".join(parts[2:]), revision or None


def check_sha256(path: Path, expected: str, *, delete: bool) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has sha256 ``expected``; ``delete`` removes
    a mismatching file (a download), so that no untrusted file stays behind."""
    actual = file_sha256(path)
    if actual == expected:
        return
    fate = "deleted it" if delete else "left it untouched"
    if delete:
        path.unlink(missing_ok=True)
    raise ChecksumError(
        f"{path} has sha256 {actual[:16]}..., the manifest says {expected[:16]}...: the file is "
        f"damaged or was replaced; {fate}. Download it again (wgen zoo download NAME) or "
        "restore it."
    )


def cached_path(location: str, sha256: str, name: str) -> Path:
    """Where a remote file is kept: ``$WGEN_HOME/checkpoints/<name>-<sha256[:12]><suffix>``."""
    suffix = Path(location.partition("@")[0]).suffix or ".safetensors"
    return wgen_home() / "checkpoints" / f"{name}-{sha256[:12]}{suffix}"


def fetch(location: str, sha256: str, name: str, *, base_dir: Path, progress: bool = False) -> Path:
    """The verified local path of a checkpoint file.

    ``location`` is a path (relative to ``base_dir``, the manifest's folder), an ``http(s)``
    URL or an ``hf://`` reference. A URL is downloaded once into the cache with torch's
    ``download_url_to_file`` (to a temporary file, hash-checked, then renamed), and later calls
    read the cached copy without a request. A cached or local file is checked again on every
    call; a cached file that fails is deleted, a local one is left for its owner.
    """
    if location.startswith(HF_PREFIX):
        return _fetch_hf(location, sha256)
    if not is_remote(location):
        path = Path(location)
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise CheckpointNotFoundError(
                f"checkpoint file {path} is missing; restore it (git checkout checkpoints/) or "
                "reinstall lightning-wgen from a clone."
            )
        check_sha256(path, sha256, delete=False)
        return path
    path = cached_path(location, sha256, name)
    if path.is_file():
        check_sha256(path, sha256, delete=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(location, str(path), hash_prefix=sha256, progress=progress)
    except RuntimeError as err:
        if "invalid hash value" not in str(err):
            raise
        raise ChecksumError(
            f"the download of {name} from {location} does not have the manifest's sha256 "
            f"{sha256[:16]}... (a truncated or replaced file); nothing was kept in {path.parent}."
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        if isinstance(err, urllib.error.HTTPError):
            reason = f"HTTP {err.code} {err.reason}"
        else:
            reason = getattr(err, "reason", None) or err
        raise DownloadError(
            f"could not download {name} from {location}: {reason}; check the network, or put "
            f"the file at {path}."
        ) from None
    return path


def _fetch_hf(reference: str, sha256: str) -> Path:
    repo_id, filename, revision = parse_hf_reference(reference)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise ConfigError(
            f"{reference} is on the Hugging Face Hub, which needs the huggingface_hub package: "
            "pip install huggingface_hub."
        ) from None
    path = Path(hf_hub_download(repo_id=repo_id, filename=filename, revision=revision))
    check_sha256(path, sha256, delete=True)
    return path
