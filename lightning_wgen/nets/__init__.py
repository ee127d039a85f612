"""Plain ``nn.Module`` networks: they know nothing of training."""

from lightning_wgen.nets.dcgan import DCGANCritic, DCGANGenerator
from lightning_wgen.nets.mlp import MLPCritic, MLPGenerator

__all__ = ["DCGANCritic", "DCGANGenerator", "MLPCritic", "MLPGenerator"]
