"""Property test of configuration checking: a module and DataModule built from random settings,
good and bad, either train and sample, or refuse with one of our errors (``WGenError``: one line
naming the value); never another exception from deep inside torch or Lightning.

Each example draws every setting from its allowed range except at most one, drawn from outside it
(a value out of range, an unknown name, or a size that does not match the other networks or the
data), so that the examples reach every check, including those that only a run can make.
Hypothesis runs a fixed (derandomised) set of examples, so the suite gives the same verdict on
every run; ``HYPOTHESIS_PROFILE=explore`` draws new ones."""

import os
import warnings

import pytest
import torch
from helpers import quiet_trainer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lightning_wgen import (
    AAE,
    DRAGAN,
    FGAN,
    GAN,
    SNGAN,
    VAE,
    WAEGAN,
    WAEMMD,
    WGAN,
    WGANGP,
    WGANSN,
    CramerGAN,
    WGANDiv,
)
from lightning_wgen.data import ImageFolderDataModule, ToyDataModule
from lightning_wgen.errors import WGenError
from lightning_wgen.nets import ConvDecoder, ConvEncoder, MLPCritic, MLPGenerator

settings.register_profile(
    "fixed",
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("explore", parent=settings.get_profile("fixed"), derandomize=False)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fixed")

# name: (allowed, out of range)
SIZE = (st.integers(1, 4), st.integers(-2, 0))
WEIGHT = (st.floats(0.0, 20.0), st.floats(-5.0, -0.01))
COMMON = {
    "n_critic": (st.integers(1, 3), st.integers(-1, 0)),
    "ema_decay": (st.one_of(st.none(), st.floats(0.5, 0.99)), st.sampled_from([-0.5, 0.0, 1.0])),
    "lr_decay": (st.sampled_from(["constant", "linear"]), st.sampled_from(["cosine", ""])),
    "max_generator_steps": (st.integers(1, 2), st.integers(-1, 0)),
    "nonfinite": (st.sampled_from(["stop", "skip"]), st.sampled_from(["ignore", "raise"])),
}
ADVERSARIAL = {
    WGAN: {"clip_value": (st.floats(0.001, 0.1), st.floats(-0.1, 0.0))},
    WGANGP: {"gp_weight": WEIGHT, "one_sided": (st.booleans(), st.booleans())},
    WGANDiv: {"k": WEIGHT, "p": (st.floats(1.0, 8.0), st.floats(1.0, 8.0))},
    WGANSN: {},
    SNGAN: {},
    GAN: {},
    DRAGAN: {"gp_weight": WEIGHT},
    FGAN: {"divergence": (st.sampled_from(["kl", "reverse_kl"]), st.sampled_from(["tv", ""]))},
    CramerGAN: {"gp_weight": WEIGHT},
}
AUTOENCODERS = {
    WAEMMD: {"mmd_weight": WEIGHT, "kernel": (st.sampled_from(["imq", "rbf"]), st.just("cosine"))},
    VAE: {"kl_weight": WEIGHT},
    AAE: {"adversarial_weight": WEIGHT},
    WAEGAN: {"adversarial_weight": WEIGHT},
}


def draw_settings(draw, ranges: dict[str, tuple]) -> tuple[dict, str | None]:
    """One value per name, all allowed but at most one (about half the examples have one)."""
    names = list(ranges)
    bad = draw(st.sampled_from([None] * len(names) + names))
    return {name: draw(ranges[name][name == bad]) for name in names}, bad


@st.composite
def adversarial_setups(draw):
    family = draw(st.sampled_from(list(ADVERSARIAL)))
    features = st.integers(2, 3) if family is CramerGAN else st.just(1)
    wrong_features = st.just(1) if family is CramerGAN else st.integers(0, 0)
    ranges = {
        **{f"module.{k}": v for k, v in {**COMMON, **ADVERSARIAL[family]}.items()},
        "generator.latent_dim": SIZE,
        "generator.data_dim": (st.just(2), st.sampled_from([1, 3])),  # the data's is 2
        "generator.hidden_features": SIZE,
        "generator.num_hidden_layers": (st.integers(1, 2), st.integers(-1, 0)),
        "critic.data_dim": (st.just(2), st.sampled_from([1, 3])),
        "critic.hidden_features": SIZE,
        "critic.out_features": (features, wrong_features),
        "data.name": (st.sampled_from(["grid25", "ring8", "swissroll"]), st.just("moons")),
        "data.batch_size": (st.integers(2, 6), st.integers(-1, 0)),
    }
    values, bad = draw_settings(draw, ranges)
    return family, split(values), bad


def split(values: dict) -> dict[str, dict]:
    """``{"a.b": v}`` to ``{"a": {"b": v}}``."""
    parts: dict[str, dict] = {}
    for key, value in values.items():
        owner, name = key.split(".")
        parts.setdefault(owner, {})[name] = value
    return parts


def works_or_refuses(build, outcomes: list[str]) -> None:
    """``build()``, train for at most 12 optimizer steps and sample; a WGenError anywhere is a
    refusal, and any other exception fails the test."""
    try:
        model, data = build()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quiet_trainer(max_steps=12).fit(model, data)
        samples = model.sample(3)
    except WGenError as err:
        assert "\n" not in str(err), f"a refusal of more than one line: {err}"
        outcomes.append("refused")
        return
    assert samples.shape[0] == 3
    outcomes.append("worked")


def both_seen(outcomes: list[str]) -> None:
    """The examples went both ways, each several times."""
    assert outcomes.count("worked") >= 8 and outcomes.count("refused") >= 8, outcomes


@pytest.mark.parametrize("profile", [PROFILE])
def test_adversarial_modules_from_random_settings_train_or_refuse_in_one_line(profile):
    outcomes: list[str] = []

    @settings(settings.get_profile(profile))
    @given(adversarial_setups())
    def check(setup):
        family, parts, _ = setup

        def build():
            torch.manual_seed(0)
            nets = MLPGenerator(**parts["generator"]), MLPCritic(**parts["critic"])
            return family(*nets, **parts["module"]), ToyDataModule(**parts["data"])

        works_or_refuses(build, outcomes)

    check()
    both_seen(outcomes)


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory):
    """12 random 8 x 8 RGB PNG files."""
    folder = tmp_path_factory.mktemp("pngs")
    pixels = torch.randint(0, 256, (12, 8, 8, 3), generator=torch.Generator().manual_seed(0))
    for i, image in enumerate(pixels):
        Image.fromarray(image.to(torch.uint8).numpy(), mode="RGB").save(folder / f"{i}.png")
    return folder


@st.composite
def autoencoder_setups(draw):
    family = draw(st.sampled_from(list(AUTOENCODERS)))
    options = {k: v for k, v in COMMON.items() if k not in ("n_critic", "ema_decay")}
    widths = (st.lists(st.integers(1, 4), min_size=1, max_size=3), st.just([]))
    ranges = {
        **{f"module.{k}": v for k, v in {**options, **AUTOENCODERS[family]}.items()},
        "encoder.latent_dim": SIZE,
        "encoder.channels": (st.just(3), st.sampled_from([0, 1])),
        "encoder.image_size": (st.just(8), st.sampled_from([0, 4])),
        "encoder.widths": widths,
        "decoder.latent_offset": (st.just(0), st.just(1)),
        "decoder.channels": (st.just(3), st.sampled_from([0, 1])),
        "decoder.image_size": (st.just(8), st.sampled_from([0, 4, 12])),
        "decoder.kernel_size": (st.sampled_from([3, 4]), st.integers(-1, 1)),
        "data.channels": (st.just(3), st.sampled_from([1, 2])),
        "data.image_size": (st.just(8), st.sampled_from([0, 4])),
        "data.batch_size": (st.integers(2, 6), st.integers(-1, 0)),
        "data.val_split": (st.sampled_from([0.0, 0.25]), st.sampled_from([1.0, 12, -0.5])),
    }
    values, bad = draw_settings(draw, ranges)
    parts = split(values)
    encoder, decoder = parts["encoder"], parts["decoder"]
    encoder["gaussian"] = family is VAE
    decoder["latent_dim"] = encoder["latent_dim"] + decoder.pop("latent_offset")
    decoder["widths"] = encoder["widths"][::-1] or [4]
    return family, parts, bad


@pytest.mark.parametrize("profile", [PROFILE])
def test_autoencoders_from_random_settings_train_or_refuse_in_one_line(profile, png_folder):
    outcomes: list[str] = []

    @settings(settings.get_profile(profile))
    @given(autoencoder_setups())
    def check(setup):
        family, parts, _ = setup

        def build():
            torch.manual_seed(0)
            nets = [ConvEncoder(**parts["encoder"]), ConvDecoder(**parts["decoder"])]
            if family in (AAE, WAEGAN):
                codes = max(parts["encoder"]["latent_dim"], 1)
                nets.append(MLPCritic(data_dim=codes, hidden_features=4))
            data = ImageFolderDataModule(str(png_folder), num_workers=0, **parts["data"])
            return family(*nets, **parts["module"]), data

        works_or_refuses(build, outcomes)

    check()
    both_seen(outcomes)
