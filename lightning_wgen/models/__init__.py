"""One LightningModule per model family, on the shared adversarial and autoencoder bases."""

from lightning_wgen.models.aae import AAE
from lightning_wgen.models.adversarial import AdversarialModule, critic_steps_for
from lightning_wgen.models.aeot import AEOT
from lightning_wgen.models.ali import ALI
from lightning_wgen.models.autoencoder import AutoencoderModule
from lightning_wgen.models.avb import AVB
from lightning_wgen.models.base import GenerativeModule
from lightning_wgen.models.began import BEGAN
from lightning_wgen.models.cramer_gan import CramerGAN
from lightning_wgen.models.fgan import FGAN
from lightning_wgen.models.gan import DRAGAN, GAN
from lightning_wgen.models.lightning_fixes import skip_moves_to_the_same_device
from lightning_wgen.models.lsgan import LSGAN
from lightning_wgen.models.spectral import SNGAN, WGANSN
from lightning_wgen.models.vae import VAE
from lightning_wgen.models.wae_gan import WAEGAN
from lightning_wgen.models.wae_mmd import WAEMMD
from lightning_wgen.models.wgan import WGAN, clip_parameters
from lightning_wgen.models.wgan_div import WGANDiv
from lightning_wgen.models.wgan_gp import WGANGP
from lightning_wgen.models.wgan_qc import WGANQC

skip_moves_to_the_same_device()  # Lightning's per-step logging, faster (lightning_fixes.py)

__all__ = [
    "AAE",
    "AEOT",
    "ALI",
    "AVB",
    "BEGAN",
    "VAE",
    "WAEGAN",
    "WAEMMD",
    "AutoencoderModule",
    "GenerativeModule",
    "DRAGAN",
    "FGAN",
    "GAN",
    "LSGAN",
    "SNGAN",
    "WGAN",
    "WGANGP",
    "WGANSN",
    "WGANQC",
    "AdversarialModule",
    "CramerGAN",
    "WGANDiv",
    "clip_parameters",
    "critic_steps_for",
]
