"""BEGAN (Berthelot, Schumm, Metz 2017, "BEGAN: Boundary equilibrium generative adversarial
networks")."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.losses import began_autoencoder_loss, began_convergence, began_k_update
from lightning_wgen.models.adversarial import AdversarialModule, Critic


class BEGAN(AdversarialModule):
    """An autoencoder discriminator ``D`` (an ``AutoencoderCritic``) scored by its loss ``L(v) =
    |v - D(v)|^eta`` per sample. ``D`` minimises ``L(x) - k_t L(G(z_D))``, the generator
    ``L(G(z_G))``, and after each generator update ``k_t`` follows the proportional control
    ``k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1)`` that keeps ``E L(G(z))``
    at ``gamma E L(x)`` (Sec. 3.4). ``gamma`` is the diversity ratio. Logged: ``began/k`` and the
    convergence measure ``began/m_global = L(x) + |gamma L(x) - L(G(z_G))|`` (Sec. 3.4.1).
    ``critic_scores`` is ``-L(v)`` (higher for what ``D`` reconstructs well: the data).

    Paper defaults: gamma 0.5, lambda_k 0.001, k_0 0, eta 1, one ``D`` update per generator
    update, Adam lr 1e-4 (the paper halves it when ``M_global`` stalls; the library's schedule
    is the run option ``lr_decay``).
    """

    paper_n_critic = 1
    paper_optimizer = (torch.optim.Adam, {"lr": 1e-4, "betas": (0.9, 0.999)})

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        *,
        gamma: float = 0.5,
        lambda_k: float = 0.001,
        eta: int = 1,
        **kwargs: Any,
    ) -> None:
        if not 0 < gamma <= 1 or lambda_k < 0 or eta not in (1, 2):
            raise ConfigError(
                f"BEGAN needs 0 < gamma <= 1, lambda_k >= 0 and eta 1 or 2, got gamma={gamma}, "
                f"lambda_k={lambda_k}, eta={eta}; the paper uses 0.5, 0.001 and 1."
            )
        super().__init__(generator, critic, **kwargs)
        self.gamma, self.lambda_k, self.eta = gamma, lambda_k, eta
        self.register_buffer("k", torch.zeros(()))  # k_t, saved with the checkpoint
        self._real_loss = torch.zeros(())

    def reconstruction_losses(self, v: Tensor) -> Tensor:
        """``L(v)`` per sample ``(B,)``: :func:`~lightning_wgen.losses.began_autoencoder_loss`."""
        return began_autoencoder_loss(v, self.critic(v), self.eta)

    def step_critic(self, n: int) -> Critic:
        return self.critic_scores  # -L(v): critic/w_estimate is then L(G(z)) - L(x)

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """``L_D = L(x) - k_t L(G(z_D))``, from the scores ``-L``."""
        self._real_loss = -real_scores.mean().detach()
        return -real_scores.mean() + self.k * fake_scores.mean()

    def generator_objective(self, fake: Tensor, real: Tensor) -> Tensor:
        """``L_G = L(G(z_G))``; then ``k_t``'s update and the convergence measure."""
        fake_loss = self.reconstruction_losses(fake).mean()
        real_loss, value = float(self._real_loss), float(fake_loss.detach())
        self.k.fill_(began_k_update(float(self.k), real_loss, value, self.gamma, self.lambda_k))
        convergence = began_convergence(self._real_loss, fake_loss.detach(), self.gamma)
        logs = {"began/k": self.k.clone(), "began/m_global": convergence}
        self.log_dict(logs, prog_bar=True, on_step=True, on_epoch=False, batch_size=len(fake))
        return fake_loss

    def critic_scores(self, x: Tensor) -> Tensor:
        return -self.reconstruction_losses(x)
