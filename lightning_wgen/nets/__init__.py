"""Plain ``nn.Module`` networks: they know nothing of training."""

from lightning_wgen.nets.classifier import ConvClassifier
from lightning_wgen.nets.dcgan import DCGANCritic, DCGANGenerator
from lightning_wgen.nets.mlp import MLPCritic, MLPGenerator

__all__ = ["ConvClassifier", "DCGANCritic", "DCGANGenerator", "MLPCritic", "MLPGenerator"]
