"""Fidelity, coverage and memorisation: what FID folds into one number, measured apart.

Every function takes feature matrices ``(N, d)`` of any extractor (Inception, a domain
classifier) or flattened pixels: ``real``/``train``/``test`` from the data, ``fake`` from the
model. Distances are Euclidean, computed in float32 in blocks of rows so that memory stays at
``block * N`` entries. docs/evaluation.md says what each one catches that FID misses.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lightning_wgen.errors import ConfigError

BLOCK = 1024


class Given(nn.Module):
    """The identity as torchmetrics' ``feature`` module: the metric takes features directly."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features.double()


def nearest_distances(a: Tensor, b: Tensor, k: int = 1, *, skip_self: bool = False) -> Tensor:
    """Distance from each row of ``a`` to its ``k``-th nearest row of ``b`` ``(len(a),)``;
    ``skip_self`` (``a`` is ``b``) does not count a point as its own neighbour."""
    a, b = a.float(), b.float()
    out = [
        torch.cdist(rows, b).kthvalue(k + int(skip_self), dim=1).values for rows in a.split(BLOCK)
    ]
    return torch.cat(out)


def _check(k: int, **sets: Tensor) -> None:
    for name, x in sets.items():
        if x.dim() != 2 or len(x) <= k:
            raise ConfigError(
                f"{name} must be a feature matrix (N, d) with N > {k}, got shape {tuple(x.shape)}."
            )


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision and recall, Kynkäänniemi et al. 2019, Eq. 1-2 (k = 3).

    Each set's manifold is the union of balls around its points with radius the distance to the
    ``k``-th nearest neighbour. Precision: the share of ``fake`` inside the real manifold
    (fidelity); recall: the share of ``real`` inside the generated one (coverage of the data).
    Computed by torch-fidelity's ``calculate_precision_recall_part``.
    """
    from torch_fidelity.metric_prc import calculate_precision_recall_part

    _check(k, real=real, fake=fake)
    precision, recall = calculate_precision_recall_part(
        fake.float(), real.float(), neighborhood=k, batch_size=BLOCK
    )
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Density and coverage, Naeem et al. 2020, Eq. 3-4 (k = 5).

    With ``r_i`` the distance from real point ``i`` to its ``k``-th nearest real neighbour,
    density ``= 1/(k M) sum_j sum_i 1[|Y_j - X_i| <= r_i]`` (how many real balls hold each
    sample, 1 for a sample distributed as the data) and coverage ``= 1/N sum_i 1[min_j |Y_j -
    X_i| <= r_i]`` (the share of real balls that hold any sample). Unlike precision and recall,
    neither is inflated by real outliers.
    """
    _check(k, real=real, fake=fake)
    radii = nearest_distances(real, real, k, skip_self=True)
    inside = 0.0
    covered = torch.zeros(len(real), dtype=torch.bool)
    for rows in fake.float().split(BLOCK):
        within = torch.cdist(rows, real.float()) <= radii
        inside += float(within.sum())
        covered |= within.any(dim=0)
    return {"density": inside / (k * len(fake)), "coverage": int(covered.sum()) / len(real)}


def one_nn_accuracy(real: Tensor, fake: Tensor) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy of telling ``real`` from ``fake`` (the
    classifier two-sample test of Lopez-Paz & Oquab 2017, as used by Xu et al. 2018).

    0.5: the sets are indistinguishable; towards 1: they differ; well below 0.5: each sample sits
    on a real point (copies), since its nearest neighbour then has the other label.
    """
    _check(1, real=real, fake=fake)
    pooled = torch.cat([real, fake]).float()
    labels = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))]).bool()
    correct = 0
    for start in range(0, len(pooled), BLOCK):
        rows = pooled[start : start + BLOCK]
        d = torch.cdist(rows, pooled)
        d[torch.arange(len(rows)), torch.arange(start, start + len(rows))] = math.inf
        correct += int((labels[d.argmin(dim=1)] == labels[start : start + len(rows)]).sum())
    return correct / len(pooled)


def _kmeans_cells(train: Tensor, cells: int, seed: int):
    from sklearn.cluster import KMeans

    if len(train) < cells:
        raise ConfigError(f"{cells} cells need at least as many training points, got {len(train)}.")
    return KMeans(n_clusters=cells, n_init=3, random_state=seed).fit(train.double().numpy())


def copying_test(
    train: Tensor, test: Tensor, fake: Tensor, *, cells: int = 20, seed: int = 0
) -> dict[str, float]:
    """The data-copying test C_T of Meehan et al. 2020 (Sec. 3-4).

    The training set is cut into ``cells`` k-means cells. In each cell, ``L(x)`` is the distance
    from a point to its nearest training point of the cell; the Mann-Whitney U statistic of the
    generated points' ``L`` against the held-out test points' ``L`` is z-scored under the null
    (``Z_U = (U - mn/2) / sqrt(mn (m + n + 1) / 12)``, scipy's ``mannwhitneyu`` for ``U``).
    ``C_T`` averages ``Z_U`` over the cells holding more than 20 generated points (``tau = 20/m``),
    weighted by their share of test points. Strongly negative: samples closer to the training
    set than new data is (copying); near 0: fine; positive: underfitting. Also returned: the
    share of generated points in the cells left out.
    """
    from scipy.stats import mannwhitneyu

    _check(1, train=train, test=test, fake=fake)
    kmeans = _kmeans_cells(train, cells, seed)
    cell_of = {
        name: torch.as_tensor(kmeans.predict(x.double().numpy()))
        for name, x in (("train", train), ("test", test), ("fake", fake))
    }
    weighted, weights, kept = 0.0, 0.0, 0
    for cell in range(cells):
        members = {name: cell_of[name] == cell for name in cell_of}
        m, n = int(members["fake"].sum()), int(members["test"].sum())
        if m <= 20 or n == 0:
            continue
        anchors = train[members["train"]]
        generated = nearest_distances(fake[members["fake"]], anchors).numpy()
        held_out = nearest_distances(test[members["test"]], anchors).numpy()
        u = float(mannwhitneyu(generated, held_out, alternative="less").statistic)
        z = (u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12)
        weighted += n / len(test) * z
        weights += n / len(test)
        kept += m
    if weights == 0:
        raise ConfigError(
            f"no cell holds more than 20 generated points: give more samples than {len(fake)}, "
            f"or fewer cells than {cells}."
        )
    return {"c_t": weighted / weights, "c_t_unjudged": 1 - kept / len(fake)}


def number_of_different_bins(
    train: Tensor, fake: Tensor, *, bins: int = 100, alpha: float = 0.05, seed: int = 0
) -> dict[str, float]:
    """NDB, Richardson & Weiss 2018, Sec. 4: k-means bins of the training set, and the number of
    bins whose share of generated points differs from their share of training points by a
    two-proportion z-test (pooled proportion) at level ``alpha``. Returned as the count
    ``ndb`` and ``ndb_k`` = count / bins (about ``alpha`` for a model distributed as the data)."""
    from scipy.stats import norm

    _check(1, train=train, fake=fake)
    kmeans = _kmeans_cells(train, bins, seed)
    n, m = len(train), len(fake)
    p = torch.bincount(torch.as_tensor(kmeans.labels_), minlength=bins).double() / n
    q = torch.bincount(torch.as_tensor(kmeans.predict(fake.double().numpy())), minlength=bins)
    q = q.double() / m
    pooled = (p * n + q * m) / (n + m)
    z = (p - q) / (pooled * (1 - pooled) * (1 / n + 1 / m)).sqrt()
    different = int((z.abs() > norm.ppf(1 - alpha / 2)).sum())
    return {"ndb": float(different), "ndb_k": different / bins}


def memorization_informed_fid(train: Tensor, fake: Tensor, eps: float = 0.1) -> float:
    """MiFID (Bai et al. 2021; the Kaggle "Generative Dog Images" metric) by torchmetrics'
    ``MemorizationInformedFrechetInceptionDistance``: FID divided by the mean minimum cosine
    distance between the sets when that is below ``eps``, so copies of the training set score
    far worse than their FID."""
    from torchmetrics.image.mifid import MemorizationInformedFrechetInceptionDistance

    metric = MemorizationInformedFrechetInceptionDistance(
        feature=Given(train.shape[1]), cosine_distance_eps=eps, sync_on_compute=False
    )
    metric.update(train, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())
