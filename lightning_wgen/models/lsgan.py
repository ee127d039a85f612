"""LSGAN (Mao, Li, Xie, Lau, Wang, Smolley, ICCV 2017, "Least squares generative adversarial
networks")."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.losses import lsgan_coding, lsgan_critic_loss, lsgan_generator_loss
from lightning_wgen.models.adversarial import AdversarialModule


class LSGAN(AdversarialModule):
    """Least-squares losses: the critic regresses its score of real samples to ``b`` and of
    generated ones to ``a``; the generator pulls the score of its samples to ``c``
    (:func:`~lightning_wgen.losses.lsgan_critic_loss`, Eq. 2). ``coding`` "0-1-1" (``a=0, b=1,
    c=1``, Eq. 9, the paper's choice for its experiments) or "-1-1-0" (Eq. 8, ``b - c = 1`` and
    ``b - a = 2``: the Pearson chi^2 divergence). The critic's output is linear. Defaults: one
    critic update per generator update and Adam with betas (0.5, 0.999) (Sec. 4.1), lr 2e-4.
    Other arguments: :class:`~lightning_wgen.models.AdversarialModule`.
    """

    paper_n_critic = 1
    paper_optimizer = (torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)})

    def __init__(
        self, generator: nn.Module, critic: nn.Module, *, coding: str = "0-1-1", **kwargs: Any
    ) -> None:
        lsgan_coding(coding)  # one line for an unknown coding, before anything is built
        super().__init__(generator, critic, **kwargs)
        self.coding = coding

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return lsgan_critic_loss(real_scores, fake_scores, self.coding)

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return lsgan_generator_loss(fake_scores, self.coding)
