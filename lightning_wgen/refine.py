"""Critic-guided sampling: a trained critic moves or filters a generator's samples.

- DOT, discriminator optimal transport (Tanaka 2019, NeurIPS, arXiv:1910.06832): each sample
  ``y`` moves to ``argmin_x ||x - y|| - D(x) / K_eff``, in data space or, through the generator,
  in latent space (the paper's target-space and latent-space algorithms).
- DRS, discriminator rejection sampling (Azadi et al. 2019, ICLR, arXiv:1810.06758): each sample
  is kept with the paper's acceptance probability and its gamma shift, from the calibrated
  critic's logit.
- MH-GAN, Metropolis-Hastings with the generator as independent proposal (Turner et al. 2019,
  ICML, arXiv:1811.11357): an independence sampler whose acceptance ratio reads the
  calibrated discriminator as a density ratio.

A Wasserstein critic's score is not a probability: DRS and MH read it through a logistic fit of
real against generated scores (:func:`calibrate`), as MH-GAN calibrates its discriminator.
:func:`refine_samples` runs any of them on a model that has a generator and a critic
(``noise``, ``generate``, ``critic_scores``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from lightning_wgen.errors import ConfigError

METHODS = ("dot", "dot_latent", "drs", "mh")


def refine_plan(refine: Sequence[str] | Mapping[str, Mapping[str, Any]] | None, where: str):
    """``{method: options}`` from a list of methods or a mapping of methods to their options
    (as the evaluation callbacks take them), with one line for an unknown method."""
    plan = {m: {} for m in refine} if not isinstance(refine, Mapping) else dict(refine or {})
    unknown = [m for m in plan if m not in METHODS]
    if unknown:
        raise ConfigError(f"{where} refine: {unknown[0]!r} is not one of {METHODS}.")
    return {m: dict(options or {}) for m, options in plan.items()}


Score = Callable[[Tensor], Tensor]


def smooth_distance(x: Tensor, y: Tensor, delta: float = 1e-3) -> Tensor:
    """``sqrt(||x - y||^2 + delta^2)`` per row: the norm of DOT's cost, smoothed where ``x = y``
    so that its gradient exists at the start (the authors' code offsets ``x - y`` by 1e-3)."""
    return ((x - y).flatten(1).square().sum(dim=1) + delta**2).sqrt()


def lipschitz_estimate(
    scores_a: Tensor, scores_b: Tensor, a: Tensor, b: Tensor, repeats: int
) -> float:
    """``K_eff = max |D(a_i) - D(b_i)| / ||a_i - b_i||`` over pairs, averaged over ``repeats``
    equal groups of pairs (Tanaka 2019's effective Lipschitz constant; the authors' code averages
    10 maxima of 100 pairs).
    ``a``, ``b`` are the points whose distance counts: samples in data space, their noise in
    latent space."""
    ratio = (scores_a - scores_b).abs().flatten() / (a - b).flatten(1).norm(dim=1)
    return float(ratio.reshape(repeats, -1).max(dim=1).values.mean())


def dot_in_data(
    critic: Score,
    y: Tensor,
    k_eff: float,
    *,
    steps: int = 100,
    lr: float = 0.01,
    betas: tuple[float, float] = (0.0, 0.9),
    clip: tuple[float, float] | None = None,
) -> Tensor:
    """Target-space DOT (Tanaka 2019): ``x`` starts at ``y`` and descends
    ``||x - y|| - D(x) / k_eff`` with Adam (lr 0.01, betas (0, 0.9), 100 steps: the authors' 2D
    setting); ``clip`` keeps ``x`` in the data's range after every step."""
    x = y.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr, betas=betas)
    for _ in range(steps):
        optimizer.zero_grad()
        cost = smooth_distance(x, y) - critic(x).flatten() / k_eff
        cost.sum().backward()
        optimizer.step()
        if clip is not None:
            x.data.clamp_(*clip)
    return x.detach()


def dot_in_latent(
    critic: Score,
    generator: Callable[[Tensor], Tensor],
    z_y: Tensor,
    k_eff: float,
    *,
    steps: int = 10,
    lr: float = 0.01,
    prior: str = "normal",
) -> Tensor:
    """Latent-space DOT (Tanaka 2019): ``z`` starts at ``z_y`` and descends
    ``||z - z_y|| - D(G(z)) / k_eff`` by SGD (lr 0.01, 10 steps, the authors' CIFAR-10 setting).
    The prior bounds the walk as theirs does: a ``"uniform"`` prior on [-1, 1] is clipped; for a
    ``"normal"`` prior the gradient's radial part is removed, so ``z`` moves on its sphere, where
    Gaussian noise in many dimensions lives."""
    if prior not in ("normal", "uniform"):
        raise ConfigError(f"prior must be 'normal' or 'uniform', got {prior!r}.")
    z = z_y.detach().clone().requires_grad_(True)
    for _ in range(steps):
        cost = smooth_distance(z, z_y) - critic(generator(z)).flatten() / k_eff
        (gradient,) = torch.autograd.grad(cost.sum(), z)
        with torch.no_grad():
            if prior == "normal":
                radial = (gradient * z).sum(dim=1, keepdim=True) / z.square().sum(1, keepdim=True)
                gradient = gradient - radial * z
            z -= lr * gradient
            if prior == "uniform":
                z.clamp_(-1.0, 1.0)
    return z.detach()


def calibrate(real_scores: Tensor, fake_scores: Tensor) -> tuple[float, float]:
    """``(a, b)`` of the logistic regression ``P(real | s) = sigmoid(a s + b)`` fitted to
    held-out real and generated critic scores (scikit-learn, its default L2 strength), so that
    ``a D(x) + b`` estimates the logit ``log p_data(x) / p_g(x)`` that DRS and MH need."""
    from sklearn.linear_model import LogisticRegression

    scores = torch.cat([real_scores.flatten(), fake_scores.flatten()]).double().cpu()
    labels = torch.cat([torch.ones(real_scores.numel()), torch.zeros(fake_scores.numel())])
    fit = LogisticRegression().fit(scores[:, None].numpy(), labels.numpy())
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def drs_acceptance(
    logits: Tensor, max_logit: float, *, gamma_percentile: float | None = 95.0, eps: float = 1e-6
) -> Tensor:
    """DRS's acceptance probability (Azadi et al. 2019):
    ``sigmoid(F(x) - gamma)`` with ``F(x) = D~(x) - D~*_M - log(1 - exp(D~(x) - D~*_M - eps))``
    for the calibrated logit ``D~`` and its largest value seen ``D~*_M``. ``gamma`` is the batch's
    ``gamma_percentile``-th percentile of ``F`` (the paper's shift, which sets the acceptance
    rate); ``None`` gives ``gamma = 0``, the exact rule ``p_data / (M p_g)``."""
    delta = logits.double() - max_logit
    f = delta - torch.log(-torch.expm1(delta - eps))
    gamma = 0.0 if gamma_percentile is None else torch.quantile(f, gamma_percentile / 100)
    return torch.sigmoid(f - gamma)


def mh_step(logit: Tensor, proposal_logit: Tensor, uniform: Tensor) -> Tensor:
    """Which chains of MH-GAN accept the proposal: ``u <= min(1, r)`` with
    ``r = (1 / D(x_k) - 1) / (1 / D(x') - 1) = exp(D~(x') - D~(x_k))`` for the calibrated
    ``D = sigmoid(D~)`` (Turner et al. 2019, the independence sampler's acceptance)."""
    return uniform.log() <= (proposal_logit - logit).clamp_max(0)


def check_refinable(model, method: str) -> None:
    """One line unless ``method`` is known and ``model`` has a trained critic."""
    if method not in METHODS:
        raise ConfigError(f"refine must be one of {METHODS}, got {method!r}.")
    if getattr(model, "critic", None) is None:
        raise ConfigError(
            f"refine={method!r} needs a critic, and {type(model).__name__} has none: refine "
            "samples of an adversarial family (WGAN, WGAN-GP, ...)."
        )
    if "critic" in getattr(model, "untrained_networks", ()):
        raise ConfigError(
            f"refine={method!r} needs the trained critic, and this model was loaded from a file "
            "that holds only what sampling needs; load the `wgen fit` checkpoint instead (a zoo "
            "model gets one with `wgen zoo add-critic NAME`)."
        )


def refine_samples(
    model,
    n: int,
    method: str,
    *,
    real: Tensor | None = None,
    seed: int | None = None,
    ema: bool = True,
    batch_size: int = 1024,
    pairs: int = 100,
    repeats: int = 10,
    burn_in: int = 10_000,
    chain_length: int = 640,
    max_rounds: int = 1000,
    **options,
) -> Tensor:
    """``n`` samples of ``model`` refined by its critic with ``method`` (one of
    :data:`METHODS`); ``options`` go to :func:`dot_in_data`, :func:`dot_in_latent` or
    :func:`drs_acceptance`. DOT's ``k_eff`` is estimated from ``repeats`` groups of ``pairs``
    sample pairs (:func:`lipschitz_estimate`) unless given, then multiplied by ``k_eff_scale``
    (1 in the paper; below 1 the samples move closer to the critic's local maxima: see
    docs/refine.md for what 0.6 did on the quickstart). ``real`` (held-out real samples) is
    needed by DRS and MH, to calibrate the critic and, for MH, to start each chain (Turner et
    al. 2019 start from real data to skip burn-in). DRS estimates ``D~*_M`` from ``burn_in``
    samples, then updates it batch by batch (Azadi et al. 2019); MH runs chains of
    ``chain_length`` proposals and keeps those that accepted one."""
    check_refinable(model, method)
    if method in ("drs", "mh") and (real is None or len(real) < 2):
        raise ConfigError(
            f"refine={method!r} needs real: held-out real samples to calibrate the critic "
            "(e.g. datamodule.sample(2500) or a batch of test images)."
        )
    takes = {
        "dot": {"k_eff", "k_eff_scale", "steps", "lr", "betas", "clip"},
        "dot_latent": {"k_eff", "k_eff_scale", "steps", "lr", "prior"},
        "drs": {"gamma_percentile", "eps"},
        "mh": set(),
    }[method]
    unknown = sorted(set(options) - takes)
    if unknown:
        raise ConfigError(
            f"refine={method!r} has no option {unknown[0]!r}; it takes "
            f"{', '.join(sorted(takes)) or 'none'} (and real, seed, ema, batch_size)."
        )
    with _eval(model):
        if seed is None:
            seed = int(torch.empty((), dtype=torch.int64).random_())
        # the samples' noise is what sample(n, seed=seed) draws, so DOT refines exactly those
        # samples; the rest (K_eff's pairs, calibration, acceptance) draws from a second stream
        rng, aux = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
        device = model.device

        def noise(m: int, stream: torch.Generator = aux) -> Tensor:
            return model.noise(m, generator=stream)

        def generate(z: Tensor) -> Tensor:
            return model.generate(z, ema=ema)

        def critic(x: Tensor) -> Tensor:
            return model.critic_scores(x).flatten()

        if method in ("dot", "dot_latent"):
            z1, z2 = noise(pairs * repeats), noise(pairs * repeats)
            with torch.no_grad():
                x1, x2 = generate(z1), generate(z2)
                s1, s2 = critic(x1), critic(x2)
            a, b = (x1, x2) if method == "dot" else (z1, z2)
            k_eff = options.pop("k_eff", None) or lipschitz_estimate(s1, s2, a, b, repeats)
            k_eff *= options.pop("k_eff_scale", 1.0)
            if method == "dot" and x1.dim() > 2:
                options.setdefault("clip", (-1.0, 1.0))  # images stay in the data's range
            out = []
            for m in _chunks(n, batch_size):
                z = noise(m, rng)
                with torch.enable_grad():
                    if method == "dot":
                        with torch.no_grad():
                            y = generate(z)
                        out.append(dot_in_data(critic, y, k_eff, **options))
                    else:
                        z = dot_in_latent(critic, model.sampling_network(ema), z, k_eff, **options)
                        out.append(generate(z))
            return torch.cat(out)

        real = real.to(device)
        with torch.no_grad():
            fake = torch.cat([generate(noise(m)) for m in _chunks(len(real), batch_size)])
            slope, intercept = calibrate(critic(real), critic(fake))

        def logit(x: Tensor) -> Tensor:
            return (slope * critic(x).double() + intercept).cpu()

        kept: list[Tensor] = []
        count = 0
        with torch.no_grad():
            if method == "drs":
                draws = _chunks(burn_in, batch_size)
                max_logit = max(float(logit(generate(noise(m))).max()) for m in draws)
            for _ in range(max_rounds):
                if count >= n:
                    break
                if method == "drs":
                    x = generate(noise(batch_size))
                    scores = logit(x)
                    max_logit = max(max_logit, float(scores.max()))
                    p = drs_acceptance(scores, max_logit, **options)
                    keep = torch.rand(len(p), generator=aux, dtype=p.dtype) < p
                else:
                    pick = torch.randint(len(real), (min(batch_size, n - count),), generator=aux)
                    x, scores = real[pick], logit(real[pick])
                    keep = torch.zeros(len(x), dtype=torch.bool)
                    for _step in range(chain_length):
                        proposal = generate(noise(len(x)))
                        proposal_scores = logit(proposal)
                        accept = mh_step(scores, proposal_scores, torch.rand(len(x), generator=aux))
                        x = torch.where(_rows(accept, x).to(device), proposal, x)
                        scores = torch.where(accept, proposal_scores, scores)
                        keep |= accept
                kept.append(x[keep.to(device)])
                count += int(keep.sum())
        if count < n:
            raise ConfigError(
                f"refine={method!r} kept {count} of the {n} samples asked for in {max_rounds} "
                "rounds; lower gamma_percentile (DRS) or check that the critic was trained with "
                "this generator."
            )
        return torch.cat(kept)[:n]


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def _rows(mask: Tensor, like: Tensor) -> Tensor:
    return mask.reshape(-1, *([1] * (like.dim() - 1)))


class _eval:
    """The model's networks in eval mode for the block (batch norm on running statistics)."""

    def __init__(self, model) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.was_training = self.model.training
        self.model.eval()

    def __exit__(self, *exc) -> None:
        self.model.train(self.was_training)
