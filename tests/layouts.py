"""Official on-disk layouts of CIFAR-10 and CelebA, built from the real images in shared/data."""

import hashlib
import pickle
import shutil
from pathlib import Path

import numpy as np

CIFAR_TRAIN_PER_BATCH = 60  # 5 training batches of 60 and a test batch of the last 100 images


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def build_cifar10(shared_data: Path, root: Path) -> dict:
    """``root/cifar-10-batches-py/`` in the official pickled format; returns the arrays used."""
    subset = np.load(shared_data / "CIFAR10" / "cifar10_test_subset_400.npz")
    images, labels = subset["images"], subset["labels"].astype(int)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def write(name, chunk, chunk_labels):
        # official rows: 3072 bytes, the red plane, then green, then blue (row-major 32x32 each)
        data = chunk.transpose(0, 3, 1, 2).reshape(len(chunk), 3072)
        entry = {
            "batch_label": name,
            "labels": chunk_labels.tolist(),
            "data": data,
            "filenames": [f"{name}_{i}.png" for i in range(len(chunk))],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)

    n = CIFAR_TRAIN_PER_BATCH
    for b in range(5):
        write(f"data_batch_{b + 1}", images[b * n : (b + 1) * n], labels[b * n : (b + 1) * n])
    write("test_batch", images[5 * n :], labels[5 * n :])
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(c) for c in subset["classes"]], "num_vis": 3072}, f)
    return {
        "train_images": images[: 5 * n],
        "train_labels": labels[: 5 * n],
        "test_images": images[5 * n :],
        "test_labels": labels[5 * n :],
    }


def celeba_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "CelebA" / "img_align_celeba").glob("*.jpg"))


def celeba_partition(files: list[Path]) -> dict[str, int]:
    """80 train, 20 valid, 20 test, in file order."""
    return {f.name: 0 if i < 80 else 1 if i < 100 else 2 for i, f in enumerate(files)}


def build_celeba_folder(shared_data: Path, base: Path, *, partition_file: bool) -> None:
    """``base/img_align_celeba/*.jpg`` and optionally ``base/list_eval_partition.txt``."""
    files = celeba_files(shared_data)
    (base / "img_align_celeba").mkdir(parents=True)
    for f in files:
        shutil.copy(f, base / "img_align_celeba" / f.name)
    if partition_file:
        lines = [f"{name} {part}" for name, part in celeba_partition(files).items()]
        (base / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")


def attribute_pattern(row: int, k: int) -> int:
    """Stand-in attribute values (the real ones are not in shared/data): a checkable pattern."""
    return 1 if (row + k) % 3 == 0 else -1


def build_celeba_official(shared_data: Path, root: Path) -> None:
    """torchvision's layout ``root/celeba/``: images, partition, identities and the annotation
    files in their official formats (attributes, boxes and landmarks are stand-in values)."""
    base = root / "celeba"
    build_celeba_folder(shared_data, base, partition_file=True)
    names = [f.name for f in celeba_files(shared_data)]
    identities = dict(
        line.split()
        for line in (shared_data / "CelebA" / "identity_subset.txt").read_text().splitlines()
    )
    (base / "identity_CelebA.txt").write_text("".join(f"{n} {identities[n]}\n" for n in names))
    header = " ".join(f"attribute_{k}" for k in range(40))
    rows = [
        f"{n} " + " ".join(str(attribute_pattern(r, k)) for k in range(40))
        for r, n in enumerate(names)
    ]
    (base / "list_attr_celeba.txt").write_text(f"{len(names)}\n{header}\n" + "\n".join(rows) + "\n")
    box = "image_id x_1 y_1 width height"
    (base / "list_bbox_celeba.txt").write_text(
        f"{len(names)}\n{box}\n" + "".join(f"{n} 0 0 178 218\n" for n in names)
    )
    marks = " ".join(
        f"{p}_{a}" for p in ("lefteye", "righteye", "nose", "leftmouth", "rightmouth") for a in "xy"
    )
    (base / "list_landmarks_align_celeba.txt").write_text(
        f"{len(names)}\n{marks}\n" + "".join(f"{n}" + " 0" * 10 + "\n" for n in names)
    )
