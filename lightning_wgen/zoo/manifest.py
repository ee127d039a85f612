"""The zoo's manifest: one human-readable JSON file, ``checkpoints/manifest.json``, with an entry
per published model: what it is, the config that rebuilds it, where its weights are and their
sha256, the metrics and the protocol that measured them, and how it was trained."""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_wgen.checkpoint_io import atomic_write
from lightning_wgen.errors import CheckpointNotFoundError, ConfigError, ModelNotFoundError

FORMAT = 1
# <family>-<dataset>[-<variant>], lower case: wgan-gp-mnist, wgan-gp-grid25, ae-ot-mnist
NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
FLAT_LIST = re.compile(r"\[\s+([-+.,\deE\s]+?)\s+\]")
REQUIRED = ("family", "dataset", "config", "sha256", "size")


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
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

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
        models = data.get("models", {})
        for name, entry in models.items():
            missing = [key for key in REQUIRED if key not in entry]
            if "file" not in entry and "url" not in entry:
                missing.append("file or url")
            if missing:
                raise ConfigError(f"zoo manifest {path}: entry {name!r} lacks {missing}.")
        return cls(path, models)

    def names(self, filter: str | None = None) -> list[str]:
        """Sorted model names, those matching the shell pattern ``filter`` (``"*mnist*"``)."""
        names = sorted(self.models)
        return names if filter is None else [n for n in names if fnmatch.fnmatch(n, filter)]

    def entry(self, name: str) -> dict[str, Any]:
        if name in self.models:
            return self.models[name]
        close = difflib.get_close_matches(name, list(self.models), n=3, cutoff=0.5)
        known = ", ".join(self.names()) or "none"
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {known}."
        raise ModelNotFoundError(f"no model {name!r} in the zoo ({self.path}); {hint}")

    def location(self, name: str) -> str:
        """The entry's file (relative to the manifest) or URL."""
        entry = self.entry(name)
        return entry.get("file") or entry["url"]

    def add(self, name: str, entry: dict[str, Any]) -> None:
        check_name(name)
        self.models[name] = entry

    def write(self) -> None:
        """Rewrite the file whole (temporary file, then rename)."""
        text = json.dumps({"format": FORMAT, "models": self.models}, indent=2)
        # lists of numbers on one line each: [0, 1, 2], not a line per number
        text = FLAT_LIST.sub(lambda m: "[" + ", ".join(m[1].replace(",", " ").split()) + "]", text)
        atomic_write(self.path, (text + "\n").encode(), elsewhere="use a manifest elsewhere")
