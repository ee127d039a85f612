"""Looking up, fetching, checking and loading the zoo's models."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import torch

from lightning_wgen.errors import ChecksumError, ConfigError, WGenError
from lightning_wgen.metrics.features import file_sha256
from lightning_wgen.models.base import GenerativeModule
from lightning_wgen.zoo.files import fetch
from lightning_wgen.zoo.manifest import Manifest
from lightning_wgen.zoo.weights import build_model, load_state, ready_to_sample

ManifestLike = Manifest | str | Path | None


def _manifest(manifest: ManifestLike) -> Manifest:
    return manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)


def list_models(filter: str | None = None, *, manifest: ManifestLike = None) -> list[str]:
    """The zoo's model names, sorted; ``filter`` is a shell pattern such as ``"*mnist*"``."""
    return _manifest(manifest).names(filter)


def model_info(name: str, *, manifest: ManifestLike = None) -> dict[str, Any]:
    """The model's manifest entry as a dict (config, metrics and protocol, sha256, training)."""
    return {"name": name, **copy.deepcopy(_manifest(manifest).entry(name).to_dict())}


def download(name: str, *, manifest: ManifestLike = None, progress: bool = False) -> Path:
    """The local, sha256-checked path of the model's weights, downloading them if remote."""
    manifest = _manifest(manifest)
    entry = manifest.entry(name)
    return fetch(
        entry.location,
        entry.sha256,
        name,
        base_dir=manifest.base_dir,
        progress=progress,
    )


def verify(name: str, *, manifest: ManifestLike = None) -> str:
    """Fetch the model's file and check its sha256 and size; its sha256 (raises otherwise)."""
    manifest = _manifest(manifest)
    path = download(name, manifest=manifest)  # checks the sha256
    entry = manifest.entry(name)
    if path.stat().st_size != entry.size:  # a manifest edited by hand
        size = path.stat().st_size
        raise ConfigError(f"{path} has {size} bytes, the manifest says {entry.size}.")
    return entry.sha256


def load_pretrained(
    name: str,
    *,
    map_location: str | torch.device | None = None,
    ema: bool = True,
    manifest: ManifestLike = None,
    critic: bool = False,
) -> GenerativeModule:
    """The zoo model ``name`` in eval mode, ready to ``sample(n, seed=...)``.

    The model is rebuilt from the manifest's config and its safetensors weights are loaded after
    their sha256 is checked (a remote file is downloaded once into ``$WGEN_HOME``). A GAN's file
    holds its trained critic when it was published with one (the latent discriminator of an
    autoencoder never is); ``critic=True`` asks for it, for ``sample(n, refine=...)``, and
    refuses an entry without one. ``ema=False`` drops the EMA copy of the generator, so that
    sampling uses the trained generator's own weights.
    """
    manifest = _manifest(manifest)
    model = build_model(manifest.entry(name).config, where=f"the manifest's config of {name}")
    path = download(name, manifest=manifest)
    load_state(model, path.read_bytes(), where=str(path))
    if critic and "critic" in model.untrained_networks:
        raise ConfigError(
            f"zoo model {name} was published without its critic; critic=True needs an entry "
            "published from a training checkpoint with `wgen zoo publish` (which keeps it)."
        )
    return ready_to_sample(model, map_location=map_location, ema=ema)


# <name>-<first 8 hex digits of the file's sha256>.safetensors, as `wgen zoo publish` names files
HASHED_NAME = re.compile(r"^(?P<name>.+)-(?P<prefix>[0-9a-f]{8})$")


def check_published_file(path: Path, published_name: str | None, where: str) -> None:
    """Check a zoo ``.safetensors`` file reached by its path, not its zoo name.

    A file whose name carries a hash prefix (``<name>-<sha256[:8]>.safetensors``) must have a
    sha256 that starts with it; a file whose name or metadata (``published_name``) names an
    entry of the manifest must have that entry's sha256, unless its own hashed name vouches for
    it (an intact file of another version). Raises :class:`ChecksumError` otherwise.
    """
    hashed = HASHED_NAME.match(path.stem)
    sha256 = file_sha256(path)
    if hashed and not sha256.startswith(hashed["prefix"]):
        raise ChecksumError(
            f"{where} has sha256 {sha256[:16]}..., but its name says {hashed['prefix']}...: the "
            "file is damaged or was replaced. Restore it, or load the model by its zoo name."
        )
    if hashed:
        return
    try:
        manifest = Manifest.read()
    except WGenError:  # no manifest here: nothing to compare with
        return
    entries = [n for n in dict.fromkeys([published_name, path.stem]) if n in manifest.models]
    for name in entries:
        expected = manifest.models[name].sha256
        if sha256 != expected:
            raise ChecksumError(
                f"{where} is the zoo model {name} by its name or metadata, but its sha256 "
                f"{sha256[:16]}... is not the manifest's {expected[:16]}...: the file is damaged "
                f"or was changed. Load it by its zoo name ({name}) or restore it."
            )
