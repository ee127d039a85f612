"""One LightningModule per model family, on the shared adversarial base."""

from lightning_wgen.models.adversarial import AdversarialModule, critic_steps_for
from lightning_wgen.models.cramer_gan import CramerGAN
from lightning_wgen.models.fgan import FGAN
from lightning_wgen.models.gan import DRAGAN, GAN
from lightning_wgen.models.spectral import SNGAN, WGANSN
from lightning_wgen.models.wgan import WGAN, clip_parameters
from lightning_wgen.models.wgan_div import WGANDiv
from lightning_wgen.models.wgan_gp import WGANGP

__all__ = [
    "DRAGAN",
    "FGAN",
    "GAN",
    "SNGAN",
    "WGAN",
    "WGANGP",
    "WGANSN",
    "AdversarialModule",
    "CramerGAN",
    "WGANDiv",
    "clip_parameters",
    "critic_steps_for",
]
