"""Whether a change of the code changed what training computes: train every family a few
generator steps from a fixed seed (toy data for the adversarial families, random 28x28 images for
the autoencoders) and save the final weights and logged values; ``--compare`` checks two such
files tensor for tensor.

    PYTHONPATH=<old checkout> python benchmarks/same_training.py old.pt
    PYTHONPATH=<new checkout> python benchmarks/same_training.py new.pt
    python benchmarks/same_training.py --compare old.pt new.pt
"""

from __future__ import annotations

import argparse

import lightning as L
import torch
from common import bare_trainer
from torch.utils.data import DataLoader

import lightning_wgen.models as families
from lightning_wgen.data import ToyDataModule
from lightning_wgen.nets import ConvDecoder, ConvEncoder, MLPCritic, MLPGenerator

ADVERSARIAL = ["WGAN", "WGANGP", "WGANDiv", "WGANSN", "SNGAN", "GAN", "DRAGAN", "FGAN", "CramerGAN"]
AUTOENCODERS = ["VAE", "WAEMMD", "AAE", "WAEGAN"]


def trainer() -> L.Trainer:
    fit = bare_trainer()
    try:  # what wgen adds, where the checkout has it
        from lightning_wgen.callbacks import fit_policies

        fit.callbacks.extend(fit_policies(fit.callbacks))
    except ImportError:
        pass
    return fit


def adversarial(name: str) -> L.LightningModule:
    out = 4 if name == "CramerGAN" else 1
    critic = MLPCritic(hidden_features=16, num_hidden_layers=1, out_features=out)
    generator = MLPGenerator(latent_dim=2, hidden_features=16, num_hidden_layers=1)
    family = getattr(families, name)
    return family(generator, critic, n_critic=2, max_generator_steps=4, ema_decay=0.9)


def autoencoder(name: str) -> L.LightningModule:
    encoder = ConvEncoder(8, widths=(8, 16), gaussian=name == "VAE")
    decoder = ConvDecoder(8, widths=(16, 8))
    extra = {}
    if name in ("AAE", "WAEGAN"):
        extra["discriminator"] = MLPCritic(data_dim=8, hidden_features=16, num_hidden_layers=1)
    return getattr(families, name)(encoder, decoder, max_generator_steps=4, **extra)


def record(out: str) -> None:
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    results = {}
    for name in ADVERSARIAL + AUTOENCODERS:
        torch.manual_seed(0)
        if name in ADVERSARIAL:
            model, data = adversarial(name), ToyDataModule("grid25", batch_size=16)
        else:
            model, data = autoencoder(name), DataLoader(images, batch_size=16)
        fit = trainer()
        fit.fit(model, data)
        logged = {k: float(v) for k, v in fit.callback_metrics.items()}
        results[name] = {"state": model.state_dict(), "logged": logged}
    torch.save(results, out)
    print(f"wrote {out}: {len(results)} families")


def compare(old: str, new: str) -> bool:
    a, b = torch.load(old, weights_only=True), torch.load(new, weights_only=True)
    same_everywhere = True
    for name in a:
        sa, sb = a[name]["state"], b[name]["state"]
        weights = sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        logged = a[name]["logged"] == b[name]["logged"]
        same_everywhere &= weights and logged
        print(f"{name:10s} weights {'equal' if weights else 'DIFFER'}, logged values "
              f"{'equal' if logged else 'DIFFER'}")  # fmt: skip
    return same_everywhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="the file to write, or two files to compare")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    if args.compare:
        raise SystemExit(0 if compare(*args.files) else 1)
    record(args.files[0])


if __name__ == "__main__":
    main()
