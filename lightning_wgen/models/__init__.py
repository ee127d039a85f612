"""One LightningModule per model family, on the shared adversarial base."""

from lightning_wgen.models.adversarial import AdversarialModule, critic_steps_for
from lightning_wgen.models.wgan_gp import WGANGP

__all__ = ["WGANGP", "AdversarialModule", "critic_steps_for"]
