import pytest
import torch
from torch import nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3)])
def test_dcgan_shapes(size, channels):
    gen = DCGANGenerator(latent_dim=16, channels=channels, image_size=size, base_channels=8)
    critic = DCGANCritic(channels=channels, image_size=size, base_channels=8)
    images = gen(torch.randn(5, 16))
    assert images.shape == (5, channels, size, size)
    assert images.abs().max() <= 1.0  # tanh output, the data range
    assert critic(images).shape == (5,)


@pytest.mark.parametrize("norm", ["layer", "none"])
def test_dcgan_critic_has_no_batch_norm_and_is_per_sample(norm):
    critic = DCGANCritic(base_channels=8, norm=norm)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    # a sample's score does not depend on the rest of the batch (the penalty needs this)
    x = torch.randn(6, 1, 28, 28)
    torch.testing.assert_close(critic(x)[:2], critic(x[:2]))


def test_bad_network_arguments():
    with pytest.raises(ConfigError, match="image_size=64 is not supported"):
        DCGANGenerator(image_size=64)
    with pytest.raises(ConfigError, match="norm='batch'"):
        DCGANCritic(norm="batch")


def test_mlp_shapes():
    gen, critic = MLPGenerator(latent_dim=3, hidden_features=8), MLPCritic(hidden_features=8)
    assert gen.latent_dim == 3
    assert critic(gen(torch.randn(7, 3))).shape == (7,)
