"""Plain ``nn.Module`` networks: they know nothing of training."""

from lightning_wgen.nets.autoencoder import ConvDecoder, ConvEncoder
from lightning_wgen.nets.avb import ImplicitEncoder, PairDiscriminator
from lightning_wgen.nets.began import AutoencoderCritic
from lightning_wgen.nets.classifier import ConvClassifier
from lightning_wgen.nets.dcgan import DCGANCritic, DCGANGenerator
from lightning_wgen.nets.mlp import MLPCritic, MLPEncoder, MLPGenerator
from lightning_wgen.nets.mlp_image import MLPImageCritic, MLPImageGenerator
from lightning_wgen.nets.resnet import ResNetCritic, ResNetGenerator
from lightning_wgen.nets.spectral import spectral_normalized

__all__ = [
    "AutoencoderCritic",
    "ConvDecoder",
    "ConvEncoder",
    "ConvClassifier",
    "DCGANCritic",
    "DCGANGenerator",
    "ImplicitEncoder",
    "MLPCritic",
    "MLPEncoder",
    "MLPGenerator",
    "MLPImageCritic",
    "MLPImageGenerator",
    "PairDiscriminator",
    "ResNetCritic",
    "ResNetGenerator",
    "spectral_normalized",
]
