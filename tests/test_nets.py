import pytest
import torch
from torch import nn

from lightning_wgen.errors import ConfigError
from lightning_wgen.nets import (
    DCGANCritic,
    DCGANGenerator,
    MLPCritic,
    MLPGenerator,
    MLPImageCritic,
    MLPImageGenerator,
    ResNetCritic,
    ResNetGenerator,
    spectral_normalized,
)

NETS = {"dcgan": (DCGANGenerator, DCGANCritic), "resnet": (ResNetGenerator, ResNetCritic)}


@pytest.mark.parametrize(
    ("family", "size", "channels"),
    [("dcgan", 28, 1), ("dcgan", 32, 3), ("dcgan", 64, 3), ("resnet", 32, 3), ("resnet", 64, 3)],
)
def test_image_network_shapes(family, size, channels):
    generator_class, critic_class = NETS[family]
    gen = generator_class(latent_dim=16, channels=channels, image_size=size, base_channels=8)
    critic = critic_class(channels=channels, image_size=size, base_channels=8)
    images = gen(torch.randn(5, 16))
    assert images.shape == (5, channels, size, size)
    assert images.abs().max() <= 1.0  # tanh output, the data range
    assert critic(images).shape == (5,)
    features = critic_class(channels=channels, image_size=size, base_channels=8, out_features=6)
    assert features(images).shape == (5, 6)


def test_published_network_sizes():
    # SNGAN's CIFAR-10 ResNet generator (Miyato et al. 2018, Table 4) has 4.3M parameters
    count = sum(p.numel() for p in ResNetGenerator(image_size=32, base_channels=256).parameters())
    assert 4.2e6 < count < 4.4e6
    # DCGAN at 64 pixels with b = 128: 1024 channels at 4x4, as in Radford et al. 2016, Fig. 1
    assert DCGANGenerator(image_size=64, channels=3, base_channels=128).project[0].out_features == (
        1024 * 4 * 4
    )


@pytest.mark.parametrize(
    ("critic", "size"),
    [(DCGANCritic(base_channels=8, norm=n), 28) for n in ("layer", "none")]
    + [(ResNetCritic(channels=1, image_size=s, base_channels=8), s) for s in (32, 64)],
    ids=["dcgan-layer", "dcgan-none", "resnet32", "resnet64"],
)
def test_critics_without_batch_norm_are_per_sample(critic, size):
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    # a sample's score does not depend on the rest of the batch (the penalty needs this)
    x = torch.randn(6, 1, size, size)
    torch.testing.assert_close(critic(x)[:2], critic(x[:2]))


def test_batch_norm_critic_for_the_gan_baseline():
    critic = DCGANCritic(base_channels=8, norm="batch")
    assert sum(isinstance(m, nn.BatchNorm2d) for m in critic.modules()) == 2


def test_bad_network_arguments():
    with pytest.raises(ConfigError, match="image_size=48 is not supported"):
        DCGANGenerator(image_size=48)
    with pytest.raises(ConfigError, match="image_size=28 is not supported by the ResNet"):
        ResNetCritic(image_size=28)
    with pytest.raises(ConfigError, match="norm='group'"):
        DCGANCritic(norm="group")


def largest_singular_value(layer: nn.Module) -> float:
    weight = layer.weight.detach()  # the normalised weight W / sigma(W)
    if isinstance(layer, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)
    return torch.linalg.matrix_norm(weight.flatten(1), ord=2).item()


@pytest.mark.parametrize(
    ("critic", "shape"),
    [
        (lambda: MLPCritic(hidden_features=32), (4, 2)),
        (lambda: DCGANCritic(base_channels=8, norm="none"), (4, 1, 28, 28)),
        (lambda: ResNetCritic(channels=1, image_size=32, base_channels=8), (4, 1, 32, 32)),
    ],
    ids=["mlp", "dcgan", "resnet"],
)
def test_spectral_norm_gives_unit_largest_singular_value(critic, shape):
    # Built after seeding: weights made at collection time depend on which tests ran first.
    torch.manual_seed(0)
    critic = critic()
    spectral_normalized(critic)
    spectral_normalized(critic)  # a second call adds nothing
    layers = [m for m in critic.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert all(len(m.parametrizations.weight) == 1 for m in layers)
    x = torch.randn(shape)
    for _ in range(100):  # one power iteration per training forward pass
        critic(x)
    for layer in layers:
        assert largest_singular_value(layer) == pytest.approx(1.0, abs=1e-2)


def test_mlp_shapes():
    gen, critic = MLPGenerator(latent_dim=3, hidden_features=8), MLPCritic(hidden_features=8)
    assert gen.latent_dim == 3
    assert critic(gen(torch.randn(7, 3))).shape == (7,)
    assert MLPCritic(hidden_features=8, out_features=5)(torch.randn(7, 2)).shape == (7, 5)


def test_mlp_image_networks_are_the_textbook_pair():
    gen, critic = MLPImageGenerator(), MLPImageCritic()
    # 100-128-256-512-1024-784 with batch norm after the last three hidden layers, 784-512-256-1:
    # hand-counted weights + biases (+ the norms' scale and shift)
    linear_g = 100 * 128 + 128 + 128 * 256 + 256 + 256 * 512 + 512 + 512 * 1024 + 1024
    linear_g += 1024 * 784 + 784
    assert sum(p.numel() for p in gen.parameters()) == linear_g + 2 * (256 + 512 + 1024)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in gen.modules()) == 3
    assert sum(p.numel() for p in critic.parameters()) == 784 * 512 + 512 + 512 * 256 + 256 + 257
    images = gen(torch.randn(5, 100))
    assert images.shape == (5, 1, 28, 28)
    assert images.abs().max() <= 1.0
    assert critic(images).shape == (5,)
    # no batch norm in the critic: a sample's score does not depend on the batch (the penalty)
    torch.testing.assert_close(critic(images)[:2], critic(images[:2]))
    rgb = MLPImageGenerator(
        latent_dim=8, channels=3, image_size=32, hidden_features=[16], batch_norm=False
    )
    assert not any(isinstance(m, nn.BatchNorm1d) for m in rgb.modules())
    assert rgb(torch.randn(2, 8)).shape == (2, 3, 32, 32)


def test_bad_mlp_image_arguments_say_what_to_set():
    with pytest.raises(
        ConfigError, match=r"hidden_features .* got \[\]; try \[128, 256, 512, 1024\]"
    ):
        MLPImageGenerator(hidden_features=[])
    with pytest.raises(ConfigError, match=r"got \[512, 0\]"):
        MLPImageCritic(hidden_features=[512, 0])
    with pytest.raises(
        ConfigError, match=r"expects images of shape \(B, 1, 28, 28\), got \(2, 3, 32, 32\)"
    ):
        MLPImageCritic()(torch.zeros(2, 3, 32, 32))
