"""The zoo's manifest: one human-readable JSON file, ``checkpoints/manifest.json``, with an entry
per published model: what it is, the config that rebuilds it, where its weights are and their
sha256, the metrics and the protocol that measured them, and how it was trained."""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lightning_wgen.checkpoint_io import atomic_write
from lightning_wgen.errors import CheckpointNotFoundError, ConfigError, ModelNotFoundError

FORMAT = 1
# <family>-<dataset>[-<variant>], lower case: wgan-gp-mnist, wgan-gp-grid25, ae-ot-mnist
NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
FLAT_LIST = re.compile(r"\[\s+([-+.,\deE\s]+?)\s+\]")
REQUIRED = ("family", "dataset", "config", "sha256", "size")


@dataclass
class ModelEntry:
    """One published model: what it is, the config that rebuilds it, where its weights are and
    their sha256, the metrics with the protocol that measured them (and the reference rows of
    real data), the Inception metrics of the published protocol (``inception``: ``metrics``,
    ``reference``, ``protocol``, ``measured``), and how it was trained. ``file`` (relative to
    the manifest) or ``url`` says where the weights are; keys this version does not know are
    kept in ``extra``."""

    family: str
    dataset: str
    config: dict[str, Any]
    sha256: str
    size: int
    file: str | None = None
    url: str | None = None
    resolution: str = ""
    parameters: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    inception: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    data_licence: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    library_version: str = ""
    date: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def location(self) -> str:
        """The weights' file (relative to the manifest) or URL."""
        return self.file or self.url or ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str) -> ModelEntry:
        missing = [key for key in REQUIRED if key not in raw]
        if "file" not in raw and "url" not in raw:
            missing.append("file or url")
        if missing:
            raise ConfigError(f"{where} lacks {missing}.")
        known = {f.name for f in fields(cls)} - {"extra"}
        extra = {k: v for k, v in raw.items() if k not in known}
        return cls(**{k: v for k, v in raw.items() if k in known}, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The entry as the manifest's JSON holds it, in the order of ``ENTRY_ORDER``."""
        values = {k: v for k, v in asdict(self).items() if k != "extra" and v is not None}
        if not values["inception"]:  # measured for some models only
            del values["inception"]
        ordered = {k: values.pop(k) for k in ENTRY_ORDER if k in values}
        return {**ordered, **values, **self.extra}


# the order of an entry's keys in the file: what it is first, how it was made last
ENTRY_ORDER = (
    "family", "dataset", "resolution", "parameters", "file", "url", "sha256", "size", "metrics",
    "reference", "protocol", "inception", "config", "data", "data_licence", "training",
    "library_version", "date",
)  # fmt: skip


def default_manifest_path() -> Path:
    """``$WGEN_MANIFEST``, else ``checkpoints/manifest.json`` of the checkout the package runs
    from (the README's editable install)."""
    env = os.environ.get("WGEN_MANIFEST")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "checkpoints" / "manifest.json"


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            f"model name {name!r} is not of the form <family>-<dataset>[-<variant>] in lower "
            "case letters, digits and dashes, e.g. wgan-gp-mnist."
        )


@dataclass
class Manifest:
    path: Path
    models: dict[str, ModelEntry] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The folder local file names are relative to."""
        return self.path.parent

    @classmethod
    def read(cls, path: str | Path | None = None) -> Manifest:
        path = Path(path) if path is not None else default_manifest_path()
        if not path.is_file():
            raise CheckpointNotFoundError(
                f"no zoo manifest at {path}; install lightning-wgen from a clone (pip install -e "
                ".) or set WGEN_MANIFEST to a manifest.json."
            )
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(
                f"zoo manifest {path} is not valid JSON ({err}); restore it."
            ) from None
        version = data.get("format") if isinstance(data, dict) else None
        if version != FORMAT:
            raise ConfigError(
                f"zoo manifest {path} has format {version!r}, this lightning-wgen reads format "
                f"{FORMAT}; upgrade lightning-wgen or restore the file."
            )
        models = {
            name: ModelEntry.from_dict(raw, f"zoo manifest {path}: entry {name!r}")
            for name, raw in data.get("models", {}).items()
        }
        return cls(path, models)

    def names(self, filter: str | None = None) -> list[str]:
        """Sorted model names, those matching the shell pattern ``filter`` (``"*mnist*"``)."""
        names = sorted(self.models)
        return names if filter is None else [n for n in names if fnmatch.fnmatch(n, filter)]

    def entry(self, name: str) -> ModelEntry:
        if name in self.models:
            return self.models[name]
        close = difflib.get_close_matches(name, list(self.models), n=3, cutoff=0.5)
        known = ", ".join(self.names()) or "none"
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {known}."
        raise ModelNotFoundError(f"no model {name!r} in the zoo ({self.path}); {hint}")

    def location(self, name: str) -> str:
        """The entry's file (relative to the manifest) or URL."""
        return self.entry(name).location

    def save_entry(self, name: str, entry: ModelEntry) -> None:
        """Put ``entry`` under ``name`` in the file as it is now and write it, the other entries
        as another process may just have written them: read again, change one entry and write
        under a lock on the manifest's folder, so that two runs of ``wgen zoo publish`` (or
        ``add-critic``) at once each keep the other's entry. ``self`` then holds the file's
        entries."""
        check_name(name)
        with _folder_lock(self.path.parent):
            fresh = Manifest.read(self.path).models if self.path.is_file() else {}
            self.models = {**fresh, name: entry}
            self.write()

    def write(self) -> None:
        """Rewrite the file whole (temporary file, then rename) with ``self``'s entries; to
        change one entry of a manifest others may write too, :meth:`save_entry`."""
        models = {name: entry.to_dict() for name, entry in self.models.items()}
        text = json.dumps({"format": FORMAT, "models": models}, indent=2)
        # lists of numbers on one line each: [0, 1, 2], not a line per number
        text = FLAT_LIST.sub(lambda m: "[" + ", ".join(m[1].replace(",", " ").split()) + "]", text)
        atomic_write(self.path, (text + "\n").encode(), elsewhere="use a manifest elsewhere")


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An exclusive ``flock`` on ``folder`` itself (its inode outlives the manifest's, which
    each write replaces), held for the block; no lock where ``fcntl`` is missing (Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
