"""Each adversarial family: its paper defaults, its constraint, its one-line errors."""

import pytest
import torch
from helpers import CountingToyData, quiet_trainer
from torch import nn

from lightning_wgen import (
    DRAGAN,
    FGAN,
    GAN,
    LSGAN,
    SNGAN,
    WGAN,
    WGANGP,
    WGANQC,
    WGANSN,
    CramerGAN,
    WGANDiv,
)
from lightning_wgen.errors import ConfigError, TrainingDivergedError
from lightning_wgen.losses import hinge_critic_loss, wasserstein_critic_loss
from lightning_wgen.models import clip_parameters
from lightning_wgen.nets import DCGANCritic, MLPCritic, MLPGenerator


def tiny(family, critic=None, **kwargs):
    critic = critic or MLPCritic(hidden_features=16, num_hidden_layers=1)
    return family(
        MLPGenerator(latent_dim=2, hidden_features=16, num_hidden_layers=1), critic, **kwargs
    )


PAPER_DEFAULTS = [  # family, optimizer, its settings, n_critic, warm-up
    (WGAN, torch.optim.RMSprop, {"lr": 5e-5}, 5, True),
    (WGANGP, torch.optim.Adam, {"lr": 1e-4, "betas": (0.0, 0.9)}, 5, False),
    (WGANDiv, torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)}, 5, False),
    (WGANSN, torch.optim.Adam, {"lr": 2e-4, "betas": (0.0, 0.9)}, 5, False),
    (SNGAN, torch.optim.Adam, {"lr": 2e-4, "betas": (0.0, 0.9)}, 5, False),
    (DRAGAN, torch.optim.Adam, {"lr": 1e-4, "betas": (0.5, 0.999)}, 1, False),
    (GAN, torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)}, 1, False),
    (FGAN, torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)}, 1, False),
    (LSGAN, torch.optim.Adam, {"lr": 2e-4, "betas": (0.5, 0.999)}, 1, False),
    (WGANQC, torch.optim.Adam, {"lr": 1e-4, "betas": (0.5, 0.999)}, 1, False),
    (CramerGAN, torch.optim.Adam, {"lr": 1e-4, "betas": (0.5, 0.9)}, 5, False),
]


@pytest.mark.parametrize(("family", "optimizer", "settings", "n_critic", "warmup"), PAPER_DEFAULTS)
def test_paper_defaults(family, optimizer, settings, n_critic, warmup):
    model = tiny(family, MLPCritic(hidden_features=8, out_features=4))
    assert (model.n_critic, model.critic_warmup) == (n_critic, warmup)
    for opt in model.configure_optimizers():
        assert type(opt) is optimizer
        for key, value in settings.items():
            assert opt.defaults[key] == value
    assert tiny(family, MLPCritic(out_features=4), n_critic=3).n_critic == 3  # explicit wins


def test_penalty_weights_default_to_the_papers():
    assert tiny(WGANGP).penalty_weight == 10.0 and not tiny(WGANGP).one_sided
    assert (tiny(WGANDiv).penalty_weight, tiny(WGANDiv).p) == (2.0, 6.0)
    assert tiny(DRAGAN).penalty_weight == 10.0
    assert tiny(CramerGAN, MLPCritic(hidden_features=8, out_features=4)).penalty_weight == 10.0
    assert tiny(WGAN).clip_value == 0.01


def test_weight_clipping_keeps_every_critic_parameter_in_range():
    module = nn.Linear(3, 2)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([[0.5, -0.5, 0.001], [0.0, 2.0, -0.004]]))
    clip_parameters(module, 0.01)
    expected = torch.tensor([[0.01, -0.01, 0.001], [0.0, 0.01, -0.004]])
    torch.testing.assert_close(module.weight, expected)
    # over a real run with a large learning rate the weights hit the bounds and stay inside
    optimizer = lambda params: torch.optim.RMSprop(params, lr=0.05)  # noqa: E731
    model = tiny(WGAN, critic_optimizer=optimizer, critic_warmup=False, max_generator_steps=5)
    quiet_trainer().fit(model, CountingToyData())
    values = torch.cat([p.detach().flatten() for p in model.critic.parameters()])
    assert values.abs().max().item() == pytest.approx(0.01)
    assert (values.abs() == 0.01).float().mean() > 0.5


@pytest.mark.parametrize("family", [WGANSN, SNGAN])
def test_spectral_families_normalise_the_critic(family):
    model = tiny(family, max_generator_steps=3)
    linear = [m for m in model.critic.modules() if isinstance(m, nn.Linear)]
    assert linear and all(hasattr(m, "parametrizations") for m in linear)
    quiet_trainer().fit(model, CountingToyData())
    for m in linear:
        sigma = torch.linalg.matrix_norm(m.weight.detach(), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)


def test_sngan_uses_the_hinge_loss_and_wgansn_the_wasserstein_loss():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert tiny(SNGAN).critic_loss(real, fake) == hinge_critic_loss(real, fake)
    assert tiny(WGANSN).critic_loss(real, fake) == wasserstein_critic_loss(real, fake)


@pytest.mark.parametrize("family", [WGANGP, WGANDiv, DRAGAN, CramerGAN, WGANSN, SNGAN])
def test_per_sample_families_refuse_batch_norm_critics(family):
    with pytest.raises(ConfigError, match="has BatchNorm2d layers, which mix the samples"):
        tiny(family, DCGANCritic(base_channels=8, norm="batch"))


@pytest.mark.parametrize("family", [GAN, WGAN, FGAN])
def test_batch_norm_critic_is_allowed_without_a_per_sample_penalty(family):
    critic = DCGANCritic(base_channels=8, norm="batch")  # the DCGAN discriminator
    assert tiny(family, critic).critic is critic


@pytest.mark.parametrize(
    ("family", "kwargs", "message"),
    [
        (WGAN, {"clip_value": 0.0}, "clip_value must be > 0, got 0.0"),
        (WGANGP, {"gp_weight": -1.0}, "gp_weight must be >= 0, got -1.0"),
        (WGANDiv, {"p": 0.5}, "p must be >= 1, got 0.5; the paper uses 6"),
        (WGANDiv, {"k": -2.0}, "k must be >= 0, got -2.0; the paper uses 2"),
        (DRAGAN, {"gp_weight": -1.0}, "gp_weight must be >= 0, got -1.0; the paper uses 10"),
        (FGAN, {"divergence": "tv"}, "unknown f-divergence 'tv'; choose one of kl, reverse_kl"),
    ],
)
def test_bad_family_settings_raise_one_line(family, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        tiny(family, **kwargs)


def test_cramer_gan_needs_a_feature_critic():
    model = tiny(CramerGAN, max_generator_steps=1)
    with pytest.raises(ConfigError, match=r"feature outputs \(B, k\), got shape \(8,\)"):
        quiet_trainer().fit(model, CountingToyData())


def test_a_diverging_run_stops_with_one_line():
    critic = MLPCritic(hidden_features=16, num_hidden_layers=1)
    with torch.no_grad():
        critic.net[-1].bias.fill_(1000.0)  # f*(v) = exp(v - 1) overflows for the KL divergence
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    model = tiny(FGAN, critic, divergence="kl", max_generator_steps=3)
    with pytest.raises(TrainingDivergedError) as info:
        quiet_trainer().fit(model, CountingToyData())
    assert str(info.value) == (
        "FGAN diverged at generator step 0 (critic update 1 of 1): critic/loss = inf; the "
        "weights are those before this update. Lower the learning rate (the critic's is 0.0002: "
        "--model.init_args.critic_optimizer.init_args.lr), or set --model.init_args.nonfinite=skip "
        "to skip such updates; either takes effect on a resume."
    )
    after = model.critic.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    "family", [WGAN, WGANDiv, WGANSN, SNGAN, DRAGAN, GAN, FGAN, LSGAN, WGANQC, CramerGAN]
)
def test_checkpoint_round_trip_with_weights_only(family, tmp_path):
    def build():
        torch.manual_seed(0)
        critic = MLPCritic(hidden_features=16, num_hidden_layers=1, out_features=4)
        return tiny(family, critic if family is CramerGAN else None, max_generator_steps=2)

    model = build()
    trainer = quiet_trainer(default_root_dir=tmp_path)
    trainer.fit(model, CountingToyData())
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    restored = build()
    restored.load_state_dict(checkpoint["state_dict"])
    restored.on_load_checkpoint(checkpoint)
    assert restored.generator_steps == 2
    torch.testing.assert_close(restored.sample(5, seed=1), model.sample(5, seed=1))
    x = torch.randn(6, 2)
    model.critic.eval(), restored.critic.eval()
    torch.testing.assert_close(restored.critic(x), model.critic(x))
