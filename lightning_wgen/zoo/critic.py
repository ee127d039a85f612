"""A critic for a published GAN whose training critic was not kept (the zoo's first files held
only the generator): fitted to the frozen, published generator with the family's own critic
objective, optimizer and after-step hook (weight clipping), then published beside it.

A critic trained to convergence against the final generator estimates the Kantorovich potential
between the model and the data, which is what critic-guided sampling assumes (Tanaka 2019,
Sec. 3; Azadi et al. 2019 likewise train their discriminator further on the final generator).
The generator's tensors are not touched, so the entry's metrics stay those of the file.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from lightning_wgen.checkpoint_io import atomic_write
from lightning_wgen.data.images import images_of
from lightning_wgen.errors import ConfigError
from lightning_wgen.zoo.files import is_remote
from lightning_wgen.zoo.manifest import ModelEntry
from lightning_wgen.zoo.publish import ready
from lightning_wgen.zoo.registry import ManifestLike, _manifest, download, load_pretrained
from lightning_wgen.zoo.weights import build_datamodule, export_state, to_safetensors


def _forever(batches: Iterable[Any]) -> Iterator[Tensor]:
    while True:
        yield from (images_of(batch) for batch in batches)


def fit_critic(model: Any, batches: Iterable[Any], steps: int) -> dict[str, float]:
    """Train ``model.critic`` for ``steps`` updates on real ``batches`` (cycled) against fresh
    samples of the frozen sampling network (the EMA generator when there is one, in eval mode);
    the steps, seconds, and the mean ``critic/w_estimate`` of the last 100 updates."""
    if steps < 1:
        raise ConfigError(f"steps must be at least 1, got {steps}.")
    model.eval()
    model.critic.train()
    generator = model.sampling_network(ema=True)
    optimizer = model.optimizers_to_build()["critic"]
    estimates, start = [], time.perf_counter()
    for _, real in zip(range(steps), _forever(batches), strict=False):
        real = real.to(model.device)
        with torch.no_grad():
            fake = generator(model.noise(real.shape[0]))
        loss, logs = model.critic_objective(real, fake)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.after_critic_step()
        estimates.append(float(logs["critic/w_estimate"]))
    model.eval()
    model.untrained_networks = [n for n in model.untrained_networks if n != "critic"]
    return {
        "steps": steps,
        "seconds": round(time.perf_counter() - start, 1),
        "w_estimate": statistics.fmean(estimates[-100:]),
    }


def add_critic(
    name: str,
    *,
    steps: int = 5000,
    manifest: ManifestLike = None,
    data_dir: str | None = None,
    seed: int = 0,
    command: str | None = None,
) -> ModelEntry:
    """Fit a critic to the published GAN ``name`` (:func:`fit_critic` on its training data,
    the entry's DataModule) and republish its file with it: a new ``<name>-<sha256[:8]>`` file,
    the entry's ``file``, ``sha256``, ``size`` and ``critic`` (how it was fitted); the old file
    is removed. Refuses a model that is not a GAN or already has a critic."""
    manifest = _manifest(manifest)
    entry = manifest.entry(name)
    model = load_pretrained(name, manifest=manifest)
    if not hasattr(model, "critic"):
        raise ConfigError(f"zoo model {name} ({entry.family}) has no critic to fit.")
    if "critic" not in model.untrained_networks:
        raise ConfigError(f"zoo model {name} already has its critic; nothing to add.")
    published = load_file(str(download(name, manifest=manifest)))
    datamodule = ready(build_datamodule(entry.data, f"the manifest's {name}", data_dir=data_dir))
    torch.manual_seed(seed)
    fitted = fit_critic(model, datamodule.train_dataloader(), steps)
    state = export_state(model, critic=True)
    if any(not torch.equal(state[k], v) for k, v in published.items()):
        raise RuntimeError(f"fitting the critic changed {name}'s generator; nothing written.")
    data = to_safetensors(state, entry.config, name)
    sha256 = hashlib.sha256(data).hexdigest()
    file_name = f"{name}-{sha256[:8]}.safetensors"
    atomic_write(manifest.base_dir / file_name, data, elsewhere="the manifest's folder")
    previous = entry.location
    entry.file, entry.url, entry.sha256, entry.size = file_name, None, sha256, len(data)
    entry.extra["critic"] = {
        "fitted": "to the published generator, frozen, after training (zoo/critic.py)",
        **fitted,
        "seed": seed,
        "command": command or f"wgen zoo add-critic {name} --steps {steps}",
    }
    manifest.add(name, entry)
    manifest.write()
    download(name, manifest=manifest)  # the written file is the entry's: sha256 checked
    if previous != file_name and not is_remote(previous):
        (manifest.base_dir / previous).unlink(missing_ok=True)
    return entry
