"""Drawing from the prior and sampling: what a model offers its users and its callbacks, and
the noise its training steps draw (the same under DDP as in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.refine import refine_samples


class Sampling:
    """Sampling for a ``LightningModule`` that defines :meth:`sampling_network`."""

    def sampling_network(self, ema: bool) -> nn.Module:
        """The network that maps prior noise ``(B, latent_dim)`` to data."""
        raise NotImplementedError

    @property
    def latent_dim(self) -> int:
        return int(self.sampling_network(ema=False).latent_dim)

    @property
    def can_sample(self) -> bool:
        """False while :meth:`sample` cannot work yet (AEOT before its map is fitted); the
        periodic sampling callbacks skip those steps."""
        return True

    def noise(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal noise ``(n, latent_dim)`` on the module's device."""
        if generator is None:
            return torch.randn(n, self.latent_dim, device=self.device)
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    def shard_rows(self, n: int, draw: Callable[[int], Tensor]) -> Tensor:
        """``draw(n)`` for a training batch of ``n`` rows, made the same under DDP as in one
        process: with W processes (all seeded alike) each draws the ``W * n`` rows of the global
        batch and keeps rows ``rank, rank + W, ...``, as DistributedSampler deals out the data, so a
        W-process run with batch ``n`` equals one process with batch ``W * n``."""
        trainer = self._trainer
        world = trainer.world_size if trainer is not None else 1
        if world == 1:
            return draw(n)
        return draw(world * n)[trainer.global_rank :: world]

    def training_noise(self, n: int) -> Tensor:
        """:meth:`noise` for a training batch of ``n``, sharded under DDP (:meth:`shard_rows`)."""
        return self.shard_rows(n, self.noise)

    def training_rand(self, n: int) -> Tensor:
        """``n`` draws of ``U[0, 1)`` for a training batch (e.g. a penalty's interpolation
        weights), sharded under DDP (:meth:`shard_rows`)."""
        return self.shard_rows(n, lambda m: torch.rand(m, device=self.device))

    def training_randn_like(self, x: Tensor) -> Tensor:
        """``torch.randn_like(x)`` for a training batch ``x``, sharded under DDP by rows."""

        def draw(n: int) -> Tensor:
            return torch.randn(n, *x.shape[1:], device=x.device, dtype=x.dtype)

        return self.shard_rows(x.shape[0], draw)

    def reparameterised(self, mean: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
        """``mean + exp(logvar / 2) * eps``, ``eps`` standard normal (training noise when not
        given): a sample of a diagonal Gaussian encoder (Kingma & Welling 2014, Sec. 2.4; the
        VAE's and ALI's)."""
        eps = self.training_randn_like(mean) if eps is None else eps
        return mean + eps * (0.5 * logvar).exp()

    @torch.no_grad()
    def sample(
        self, n: int, *, seed: int | None = None, ema: bool = True, batch_size: int = 1024,
        refine: str | None = None, **refine_options: Any,
    ) -> Tensor:  # fmt: skip
        """``n`` samples in data space (points, or images in [-1, 1]) on the module's device.

        The same ``seed`` gives the same samples on any device. Uses the EMA generator when there
        is one and ``ema`` is true, in eval mode. ``refine`` ("dot", "dot_latent", "drs", "mh")
        moves or filters them with the critic (:func:`lightning_wgen.refine.refine_samples`).
        """
        if refine is not None:
            options = {"seed": seed, "ema": ema, "batch_size": batch_size, **refine_options}
            return refine_samples(self, n, refine, **options)
        return torch.cat(list(self.sample_batches(n, seed=seed, ema=ema, batch_size=batch_size)))

    def sample_batches(
        self, n: int, *, seed: int | None = None, ema: bool = True, batch_size: int = 1024
    ) -> Iterator[Tensor]:
        """:meth:`sample` one batch of at most ``batch_size`` at a time, for evaluation."""
        if n < 1:
            raise ConfigError(f"sample: n must be >= 1, got {n}.")
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        for start in range(0, n, batch_size):
            yield self.generate(self.noise(min(batch_size, n - start), generator=rng), ema=ema)

    @torch.no_grad()
    def generate(self, z: Tensor, *, ema: bool = True) -> Tensor:
        """The sampling network on given noise (or AE-OT codes) ``z`` ``(B, latent_dim)``, in
        eval mode for the call: what :meth:`sample` does after drawing ``z``."""
        net = self.sampling_network(ema)
        was_training = net.training
        net.eval()
        try:
            return net(z)
        finally:
            net.train(was_training)
