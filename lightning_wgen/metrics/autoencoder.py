"""How well an autoencoder reconstructs and how close its codes are to the prior."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from lightning_wgen.data.images import images_of
from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import mmd_unbiased, reconstruction_cost


@torch.no_grad()
def evaluate_autoencoder(
    model: Any, batches: Iterable[Any], *, mmd_codes: int = 2000, seed: int = 0
) -> dict[str, float]:
    """``reconstruction``: the mean of ``||x - G(E(x))||^2`` (summed over pixels) over every image
    of ``batches`` (a DataLoader of images or ``(images, labels)``), with deterministic codes
    ``E(x)`` (the posterior mean of a Gaussian encoder); ``latent_mmd``: the unbiased IMQ MMD
    (:func:`~lightning_wgen.losses.mmd_unbiased`) between the first ``mmd_codes`` codes and as many
    ``N(0, I)`` samples drawn with ``seed``; ``posterior_mmd``: the same with one code ``z ~
    Q(Z|x)`` per image instead (``model.sample_posterior``, its noise drawn with ``seed + 1``),
    i.e. between the aggregate posterior ``Q_Z`` and the prior, the divergence WAE penalises
    (Tolstikhin et al. 2018, Eq. 4); for a deterministic encoder it equals ``latent_mmd``. The
    model is evaluated in eval mode (batch norm with running statistics) and put back as it was.
    """
    was_training = model.training
    model.eval()
    posterior_noise = torch.Generator().manual_seed(seed + 1)
    sample_posterior = getattr(model, "sample_posterior", None)
    try:
        total, count, codes, sampled = 0.0, 0, [], []
        for batch in batches:
            x = images_of(batch).to(model.device)
            z = model.encode(x)
            total += reconstruction_cost(model.decode(z), x).item() * x.shape[0]
            count += x.shape[0]
            codes.append(z.float().cpu())
            if sample_posterior is not None:
                sampled.append(sample_posterior(x, posterior_noise).float().cpu())
    finally:
        model.train(was_training)
    if count < 2:
        raise ConfigError(f"evaluate_autoencoder needs at least 2 images, got {count}.")
    codes_t: Tensor = torch.cat(codes)[:mmd_codes]
    prior = torch.randn(codes_t.shape, generator=torch.Generator().manual_seed(seed)).double()
    sampled_t = torch.cat(sampled)[:mmd_codes] if sampled else codes_t
    return {
        "reconstruction": total / count,
        "latent_mmd": mmd_unbiased(codes_t.double(), prior).item(),
        "posterior_mmd": mmd_unbiased(sampled_t.double(), prior).item(),
        "images": count,
    }
