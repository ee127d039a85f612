"""The model zoo: pretrained checkpoints anyone can load and trust in one line.

    from lightning_wgen.zoo import list_models, load_pretrained
    model = load_pretrained("wgan-gp-mnist")
    images = model.sample(16, seed=0)

The registry is ``checkpoints/manifest.json``; every file is sha256-checked before it is read,
and weights are safetensors (no pickle). ``wgen zoo`` is the command line.
"""

from lightning_wgen.zoo.critic import add_critic, fit_critic
from lightning_wgen.zoo.files import wgen_home
from lightning_wgen.zoo.manifest import Manifest, default_manifest_path
from lightning_wgen.zoo.publish import measure_again, publish
from lightning_wgen.zoo.registry import download, list_models, load_pretrained, model_info, verify

__all__ = [
    "add_critic",
    "fit_critic",
    "Manifest",
    "default_manifest_path",
    "download",
    "list_models",
    "load_pretrained",
    "measure_again",
    "model_info",
    "publish",
    "verify",
    "wgen_home",
]
