"""Every shipped config builds, and trains a few generator steps on real data."""

import shlex
from pathlib import Path

import pytest
from helpers import quiet_trainer
from layouts import build_celeba_official, build_cifar10

from lightning_wgen.cli import build_from_config
from lightning_wgen.zoo import Manifest

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# configs/zoo: the published models' recipes; configs/logger: overlays for any run;
# configs/cpu: recipes for a few minutes on a laptop CPU
FAMILIES = sorted(
    p.name for p in CONFIGS.iterdir() if p.is_dir() and p.name not in ("zoo", "logger", "cpu")
)
DATASETS = ("toy", "mnist", "fashion_mnist", "cifar10", "celeba")
AUTOENCODERS = ("aae", "aeot", "avb", "vae", "wae_gan", "wae_mmd")  # image data only
RUNS = [
    (family, dataset)
    for family in FAMILIES
    for dataset in DATASETS
    if not (family in AUTOENCODERS and dataset == "toy")
]


def test_every_family_has_a_config_for_every_data_set():
    assert len(FAMILIES) == 19
    for family in FAMILIES:
        expected = [d for d in DATASETS if (family, d) in RUNS]
        assert sorted(p.stem for p in (CONFIGS / family).glob("*.yaml")) == sorted(expected)


@pytest.fixture(scope="module")
def data_dirs(mnist_dir, shared_data, tmp_path_factory):
    cifar, celeba = tmp_path_factory.mktemp("cifar"), tmp_path_factory.mktemp("celeba")
    build_cifar10(shared_data, cifar)
    build_celeba_official(shared_data, celeba)
    return {"mnist": mnist_dir, "fashion_mnist": mnist_dir, "cifar10": cifar, "celeba": celeba}


@pytest.mark.parametrize(("family", "dataset"), RUNS)
def test_config_trains_on_real_data(family, dataset, data_dirs, tmp_path):
    overrides = []
    if dataset != "toy":
        overrides = [
            f"--data.init_args.data_dir={data_dirs[dataset]}",
            "--data.init_args.download=false",
            "--data.init_args.batch_size=8",
            "--data.init_args.num_workers=0",
        ]
        if dataset in ("cifar10", "celeba"):
            overrides.append("--data.init_args.verify=false")  # the subsets are not the archives
            if family not in AUTOENCODERS:
                overrides.append("--model.init_args.n_critic=1")  # one step proves the shapes
        if family == "wgan":
            overrides.append("--model.init_args.critic_warmup=false")  # 100 critic steps first
    steps = 3 if dataset in ("toy", "mnist") else 1
    model, data = build_from_config(
        CONFIGS / family / f"{dataset}.yaml",
        *overrides,
        f"--model.init_args.max_generator_steps={steps}",
    )
    quiet_trainer(default_root_dir=tmp_path).fit(model, data)
    assert model.generator_steps == steps
    if family == "aeot":  # what the config's FitOT does at the end of a `wgen fit`
        model.fit_ot(data.train_dataloader(), max_codes=40, target_error=0.5)
    samples = model.sample(4, seed=0)
    if dataset == "toy":
        assert samples.shape == (4, 2)
    else:
        assert samples.shape[1:] == data.image_shape
        assert samples.abs().max() <= 1.0


def zoo_recipes() -> list[tuple[str, list[str]]]:
    """The training command of every published MNIST model (checkpoints/manifest.json) as its
    first config and the rest of its arguments, less the data folder."""
    manifest = Manifest.read()
    recipes = []
    for name in sorted(manifest.names()):
        entry = manifest.entry(name)
        if entry.dataset != "mnist":
            continue
        command = entry.training["command"].split(" (")[0]  # a remark on resuming follows
        args = shlex.split(command)[2:]  # after "wgen fit"
        where = args.index("--data.init_args.data_dir")
        recipes.append((name, args[:where] + args[where + 2 :]))
    return recipes


ZOO_RECIPES = zoo_recipes()


@pytest.mark.parametrize(("name", "args"), ZOO_RECIPES, ids=[name for name, _ in ZOO_RECIPES])
def test_zoo_recipe_trains_on_real_data(name, args, mnist_dir, tmp_path):
    """Every zoo recipe builds as its command says and trains two generator steps."""
    assert args[0] == "--config"
    configs = [str(CONFIGS.parent / a) if a.startswith("configs/") else a for a in args[1:]]
    overrides = [
        *configs,
        f"--data.init_args.data_dir={mnist_dir}",
        "--data.init_args.batch_size=8",
        "--model.init_args.max_generator_steps=2",
    ]
    if "wgan_mnist" in args[1]:
        overrides.append("--model.init_args.critic_warmup=false")  # 100 critic steps first
    model, data = build_from_config(*overrides)
    if "configs/zoo/autoencoder_mnist.yaml" in args:  # the CPU budget: widths divided by 8
        from lightning_wgen.nets import ConvDecoder

        small = ConvDecoder(8, channels=1, image_size=28, widths=[128, 64, 32], kernel_size=4)
        assert count(model.decoder) == count(small)
    assert model.max_generator_steps == 2 and data.in_memory
    quiet_trainer(default_root_dir=tmp_path).fit(model, data)
    assert model.generator_steps == 2


def count(net) -> int:
    return sum(p.numel() for p in net.parameters())


CPU_RECIPES = sorted(p.stem for p in (CONFIGS / "cpu").glob("*.yaml"))


@pytest.mark.parametrize("recipe", CPU_RECIPES)  # one per data set: cpu/<data set>.yaml
def test_cpu_recipe_trains_mlps_from_memory_on_real_data(recipe, data_dirs, tmp_path):
    model, data = build_from_config(
        CONFIGS / "cpu" / f"{recipe}.yaml",
        f"--data.init_args.data_dir={data_dirs[recipe]}",
        "--data.init_args.download=false",
        "--model.init_args.max_generator_steps=2",
    )
    assert type(model.generator).__name__ == "MLPImageGenerator" and data.in_memory
    quiet_trainer(default_root_dir=tmp_path).fit(model, data)
    assert model.generator_steps == 2
    assert model.sample(4, seed=0).shape[1:] == data.image_shape
