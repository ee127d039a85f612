"""A critic for a published GAN whose training critic was not kept (the zoo's first files held
only the generator): fitted to the frozen, published generator with the family's own critic
objective, optimizer and after-step hook (weight clipping), then published beside it.

A critic trained to convergence against the final generator estimates the Kantorovich potential
between the model and the data, which is what critic-guided sampling assumes (Tanaka 2019,
Sec. 3; Azadi et al. 2019 likewise train their discriminator further on the final generator).
The generator's tensors are not touched, so the entry's metrics stay those of the file.

``penalty`` fits with WGAN-GP's objective instead of the family's (Gulrajani et al. 2017, Eq. 3
and Algorithm 1: Adam 1e-4, betas (0, 0.9)), with the critic's normalisation layers frozen, so
that the penalised function is the one sampling evaluates. A weight-clipped critic uses little
of its capacity (ibid., Sec. 3) and barely moves samples under DOT; the penalised one does.
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
from lightning_wgen.losses import gradient_penalty, wasserstein_critic_loss, wasserstein_estimate
from lightning_wgen.zoo.files import is_remote
from lightning_wgen.zoo.manifest import ModelEntry
from lightning_wgen.zoo.publish import ready
from lightning_wgen.zoo.registry import ManifestLike, _manifest, download, load_pretrained
from lightning_wgen.zoo.weights import build_datamodule, export_state, to_safetensors


def _forever(batches: Iterable[Any]) -> Iterator[Tensor]:
    while True:
        yield from (images_of(batch) for batch in batches)


def _penalised_objective(model: Any, weight: float):
    def objective(real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        real_scores, fake_scores = model.critic(real), model.critic(fake)
        loss = wasserstein_critic_loss(real_scores, fake_scores)
        loss = loss + weight * gradient_penalty(model.critic, real, fake)
        estimate = wasserstein_estimate(real_scores, fake_scores).detach()
        return loss, {"critic/w_estimate": estimate}

    return objective


def fit_critic(
    model: Any, batches: Iterable[Any], steps: int, *, penalty: float | None = None
) -> dict[str, Any]:
    """Train ``model.critic`` for ``steps`` updates on real ``batches`` (cycled) against fresh
    samples of the frozen sampling network (the EMA generator when there is one, in eval mode),
    with the family's objective, or WGAN-GP's with weight ``penalty`` (see the module); the
    objective, steps, seconds, and the mean ``critic/w_estimate`` of the last 100 updates."""
    if steps < 1:
        raise ConfigError(f"steps must be at least 1, got {steps}.")
    if penalty is not None and not penalty > 0:
        raise ConfigError(f"penalty must be a positive weight (WGAN-GP uses 10), got {penalty}.")
    model.eval()
    generator = model.sampling_network(ema=True)
    if penalty is None:
        model.critic.train()
        objective, after_step = model.critic_objective, model.after_critic_step
        optimizer = model.optimizers_to_build()["critic"]
        described = f"the family's ({type(model).__name__})"
    else:  # normalisation layers stay frozen (eval mode): one function of each sample
        objective, after_step = _penalised_objective(model, penalty), lambda: None
        optimizer = torch.optim.Adam(model.critic.parameters(), lr=1e-4, betas=(0.0, 0.9))
        described = f"WGAN-GP's, penalty {penalty:g}, Adam 1e-4 (0, 0.9), frozen normalisation"
    estimates, start = [], time.perf_counter()
    for _, real in zip(range(steps), _forever(batches), strict=False):
        real = real.to(model.device)
        with torch.no_grad():
            fake = generator(model.noise(real.shape[0]))
        loss, logs = objective(real, fake)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        after_step()
        estimates.append(float(logs["critic/w_estimate"]))
    model.eval()
    model.untrained_networks = [n for n in model.untrained_networks if n != "critic"]
    return {
        "objective": described,
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
    penalty: float | None = None,
    refit: bool = False,
) -> ModelEntry:
    """Fit a critic to the published GAN ``name`` (:func:`fit_critic` on its training data,
    the entry's DataModule) and republish its file with it: a new ``<name>-<sha256[:8]>`` file,
    the entry's ``file``, ``sha256``, ``size`` and ``critic`` (how it was fitted); the old file
    is removed. Refuses a model that is not a GAN, or already has a critic unless ``refit``
    (then the published critic is trained further, e.g. with a ``penalty``)."""
    manifest = _manifest(manifest)
    entry = manifest.entry(name)
    model = load_pretrained(name, manifest=manifest)
    if not hasattr(model, "critic"):
        raise ConfigError(f"zoo model {name} ({entry.family}) has no critic to fit.")
    if "critic" not in model.untrained_networks and not refit:
        raise ConfigError(
            f"zoo model {name} already has its critic; nothing to add (--refit trains it further)."
        )
    published = load_file(str(download(name, manifest=manifest)))
    datamodule = ready(build_datamodule(entry.data, f"the manifest's {name}", data_dir=data_dir))
    torch.manual_seed(seed)
    fitted = fit_critic(model, datamodule.train_dataloader(), steps, penalty=penalty)
    state = export_state(model, critic=True)
    kept = {k: v for k, v in published.items() if not k.startswith("critic.")}
    if any(not torch.equal(state[k], v) for k, v in kept.items()):
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
        **({"refitted_from": entry.extra["critic"]} if refit and "critic" in entry.extra else {}),
        "seed": seed,
        "command": command or f"wgen zoo add-critic {name} --steps {steps}",
    }
    manifest.save_entry(name, entry)
    download(name, manifest=manifest)  # the written file is the entry's: sha256 checked
    if previous != file_name and not is_remote(previous):
        (manifest.base_dir / previous).unlink(missing_ok=True)
    return entry
