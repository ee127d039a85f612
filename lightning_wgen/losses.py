"""Losses and penalties as pure functions of critic scores and networks.

Conventions: a critic maps a batch ``(B, ...)`` to scores ``(B,)`` or ``(B, 1)``; every loss is a
scalar to be *minimised* by the player it belongs to.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_wgen.errors import ConfigError


def wasserstein_estimate(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic's estimate of W1: ``E f(x_real) - E f(x_fake)``.

    Kantorovich-Rubinstein duality (Arjovsky et al. 2017, "Wasserstein GAN", Eq. 2): for a
    1-Lipschitz ``f`` this lower-bounds W1(P_r, P_g), with equality at the optimal critic.
    """
    return real_scores.mean() - fake_scores.mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Critic loss ``E f(x_fake) - E f(x_real)``, the negated W1 estimate.

    Arjovsky et al. 2017, Algorithm 1 (the critic ascends E f(x) - E f(g(z))); the first two terms
    of Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Eq. 3.
    """
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """Generator loss ``-E f(g(z))`` (Arjovsky et al. 2017, Algorithm 1, line 11)."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    one_sided: bool = False,
    target: float = 1.0,
    grad_scale: Tensor | float | None = None,
    alpha: Tensor | None = None,
) -> Tensor:
    """Gradient penalty of WGAN-GP, without its weight lambda.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Eq. 3 and Algorithm 1::

        x_hat = alpha * x_real + (1 - alpha) * x_fake,   alpha ~ U[0, 1], one per sample
        GP    = E_{x_hat} (||grad_x f(x_hat)||_2 - target)^2

    With ``one_sided=True`` the penalty is ``E max(0, ||grad f(x_hat)|| - target)^2`` (WGAN-LP,
    Petzka et al. 2018, "On the regularization of Wasserstein GANs", Eq. 8), which penalises only
    slopes above the Lipschitz bound.

    The norm runs over all non-batch dimensions. The gradient graph is kept (``create_graph=True``)
    so that the penalty can be back-propagated into the critic's parameters. Both inputs are
    detached: the penalty trains the critic only. ``grad_scale``: see :func:`critic_slopes`;
    ``alpha``: see :func:`random_interpolates`.
    """
    if real.shape != fake.shape:
        raise ConfigError(
            f"gradient_penalty: real and fake batches must have the same shape, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}; pass equally sized batches."
        )
    interpolates = random_interpolates(real, fake, alpha=alpha)
    slopes = critic_slopes(critic, interpolates, create_graph=True, grad_scale=grad_scale)
    excess = slopes - target
    if one_sided:
        excess = excess.clamp(min=0.0)
    return excess.square().mean()


def random_interpolates(
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
    *,
    alpha: Tensor | None = None,
) -> Tensor:
    """``alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U[0, 1]`` per sample, detached.

    The sampling distribution of the WGAN-GP penalty (Gulrajani et al. 2017, Algorithm 1, l. 6-8).
    ``generator`` (a CPU ``torch.Generator``) makes the draw reproducible; ``alpha`` ``(B,)``
    gives the weights instead (the modules draw them sharded under DDP). Under mixed precision the
    generator's samples come in half precision; the points are made in ``real``'s dtype.
    """
    if alpha is None:
        alpha = _uniform(_per_sample_shape(real), real, generator)
    else:
        alpha = alpha.reshape(_per_sample_shape(real)).to(real.dtype)
    return torch.lerp(fake.detach().to(real.dtype), real.detach(), alpha)


def _per_sample_shape(x: Tensor) -> tuple[int, ...]:
    """``(B, 1, ..., 1)``: one value per sample, broadcast over the rest of ``x``."""
    return (x.shape[0],) + (1,) * (x.dim() - 1)


def _uniform(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """``U[0, 1)`` draws of ``shape`` on ``like``'s device and dtype; a CPU ``generator`` makes the
    draw reproducible on any device."""
    if generator is None:
        return torch.rand(shape, device=like.device, dtype=like.dtype)
    return torch.rand(shape, generator=generator).to(like.device, like.dtype)


def critic_slopes(
    critic: Callable[[Tensor], Tensor],
    points: Tensor,
    *,
    create_graph: bool = False,
    grad_scale: Tensor | float | None = None,
) -> Tensor:
    """Per-sample input-gradient norms ``||grad_x f(x)||_2`` ``(B,)`` of ``critic`` at ``points``.

    The norm runs over all non-batch dimensions, in float32. With ``create_graph`` the result can
    be back-propagated into the critic's parameters (for a penalty); without, it is a diagnostic.

    ``grad_scale``: under ``16-mixed`` the loss scale of the GradScaler. The input gradient is
    then taken of the scaled scores and divided by the scale, so that small float16 gradients do
    not flush to zero (PyTorch's AMP examples, "Gradient penalty"); an overflow gives an inf
    penalty, and the scaler skips that step and lowers its scale.
    """
    points = points.detach().requires_grad_(True)
    with torch.enable_grad():
        total = critic(points).float().sum()
        if grad_scale is not None:
            total = total * grad_scale
        (grad,) = torch.autograd.grad(total, points, create_graph=create_graph)
    grad = grad.float()
    if grad_scale is not None:
        grad = grad / grad_scale
    return torch.linalg.vector_norm(grad.flatten(1), dim=1)


def divergence_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    power: float = 6.0,
    grad_scale: Tensor | float | None = None,
) -> Tensor:
    """The gradient term of WGAN-div, without its weight k.

    Wu et al. 2018, "Wasserstein Divergence for GANs", Sec. 3 (the W-div objective
    ``E f(x_real) - E f(x_fake) + k E_{u ~ P_u} ||grad f(u)||^p``) with ``P_u`` the equal mixture of
    the real and the generated distribution, the choice of their experiments (Sec. 4)::

        penalty = (E_real ||grad f(x)||^p + E_fake ||grad f(x)||^p) / 2

    The paper's defaults are k = 2 and p = 6. Unlike the WGAN-GP penalty this is not a Lipschitz
    constraint: the critic's slopes are pushed towards zero on the data's support.
    ``grad_scale``: see :func:`critic_slopes`.
    """
    points = torch.cat([real, fake.to(real.dtype)])
    slopes = critic_slopes(critic, points, create_graph=True, grad_scale=grad_scale)
    return slopes.pow(power).mean()


def perturbed_interpolates(real: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Points around the real data, the sampling distribution of the DRAGAN penalty, detached.

    ``x + alpha * delta`` with ``delta = 0.5 * std(x) * u``, ``u ~ U[0, 1)`` per coordinate and one
    ``alpha ~ U[0, 1)`` per sample, where ``std(x)`` is the standard deviation of the whole batch:
    the perturbation of Kodali et al.'s released code for "On Convergence and Stability of GANs"
    (2017), which their Sec. 4 describes as noise around the data manifold.
    """
    real = real.detach()
    delta = 0.5 * real.std() * _uniform(tuple(real.shape), real, generator)
    alpha = _uniform(_per_sample_shape(real), real, generator)
    return real + alpha * delta


def dragan_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    *,
    target: float = 1.0,
    grad_scale: Tensor | float | None = None,
) -> Tensor:
    """DRAGAN's gradient penalty, without its weight lambda (10 in the paper).

    Kodali et al. 2017, "On Convergence and Stability of GANs", Sec. 4 (the DRAGAN regulariser)::

        penalty = E_{x_p} (||grad_x D(x_p)||_2 - k)^2,   x_p ~ perturbed_interpolates(x_real)

    with k = ``target`` = 1: the WGAN-GP form, taken around the real data only.
    ``grad_scale``: see :func:`critic_slopes`.
    """
    points = perturbed_interpolates(real)
    slopes = critic_slopes(critic, points, create_graph=True, grad_scale=grad_scale)
    return (slopes - target).square().mean()


def hinge_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Hinge loss of the critic, ``E max(0, 1 - D(x_real)) + E max(0, 1 + D(x_fake))``.

    Miyato et al. 2018, "Spectral Normalization for GANs", Eq. 16 (after Lim & Ye 2017); the
    generator minimises ``-E D(G(z))`` (Eq. 17), :func:`wasserstein_generator_loss`.
    """
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def nonsaturating_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Binary cross-entropy of the discriminator on logits: ``-E log D(x) - E log(1 - D(G(z)))``.

    Goodfellow et al. 2014, "Generative Adversarial Nets", Eq. 1, with ``D = sigmoid(logit)``;
    ``-log sigmoid(v) = softplus(-v)`` and ``-log(1 - sigmoid(v)) = softplus(v)`` keep it stable.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def nonsaturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss ``-E log D(G(z))`` (Goodfellow et al. 2014, Sec. 3)."""
    return F.softplus(-fake_logits).mean()


@dataclass(frozen=True)
class FDivergence:
    """One row of Nowozin et al. 2016, "f-GAN", Tables 1 and 2.

    ``f``: the generator function of ``D_f(P||Q) = E_Q f(p/q)``; ``activation``: the output
    activation ``g_f`` that maps the critic's raw output ``v`` into the domain of ``f*``;
    ``conjugate``: the Fenchel conjugate ``f*(t)``; ``conjugate_of_activation``: ``f*(g_f(v))``
    in a numerically stable closed form.
    """

    name: str
    f: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    conjugate_of_activation: Callable[[Tensor], Tensor]


_LOG2 = math.log(2.0)

F_DIVERGENCES: dict[str, FDivergence] = {
    d.name: d
    for d in (
        FDivergence(
            "kl",
            f=lambda u: u * u.log(),
            activation=lambda v: v,
            conjugate=lambda t: (t - 1).exp(),
            conjugate_of_activation=lambda v: (v - 1).exp(),
        ),
        FDivergence(
            "reverse_kl",
            f=lambda u: -u.log(),
            activation=lambda v: -(-v).exp(),
            conjugate=lambda t: -1 - (-t).log(),
            conjugate_of_activation=lambda v: v - 1,
        ),
        FDivergence(
            "pearson",
            f=lambda u: (u - 1).square(),
            activation=lambda v: v,
            conjugate=lambda t: t.square() / 4 + t,
            conjugate_of_activation=lambda v: v.square() / 4 + v,
        ),
        FDivergence(
            "squared_hellinger",
            f=lambda u: (u.sqrt() - 1).square(),
            activation=lambda v: 1 - (-v).exp(),
            conjugate=lambda t: t / (1 - t),
            conjugate_of_activation=lambda v: v.exp() - 1,
        ),
        FDivergence(
            "jensen_shannon",
            f=lambda u: -(u + 1) * ((1 + u) / 2).log() + u * u.log(),
            activation=lambda v: _LOG2 - F.softplus(-v),
            conjugate=lambda t: -(2 - t.exp()).log(),
            conjugate_of_activation=lambda v: F.softplus(v) - _LOG2,
        ),
        FDivergence(
            "gan",
            f=lambda u: u * u.log() - (u + 1) * (u + 1).log(),
            activation=lambda v: -F.softplus(-v),
            conjugate=lambda t: -(1 - t.exp()).log(),
            conjugate_of_activation=lambda v: F.softplus(v),
        ),
    )
}


def f_divergence(name: str) -> FDivergence:
    """The f-divergence called ``name`` (one of :data:`F_DIVERGENCES`), or a one-line error."""
    try:
        return F_DIVERGENCES[name]
    except KeyError:
        raise ConfigError(
            f"unknown f-divergence {name!r}; choose one of {', '.join(F_DIVERGENCES)}."
        ) from None


def f_divergence_estimate(real_scores: Tensor, fake_scores: Tensor, divergence: str) -> Tensor:
    """The variational lower bound of ``D_f(P_real || P_fake)`` from raw critic outputs ``v``.

    Nowozin et al. 2016, Eq. 6 with the parametrisation ``T = g_f(V)`` of Sec. 3.1 (Eq. 7)::

        F = E_real g_f(v) - E_fake f*(g_f(v))  <=  D_f(P_real || P_fake)

    with equality where ``g_f(v) = f'(p_real / p_fake)``. The critic maximises ``F``.
    """
    div = f_divergence(divergence)
    return div.activation(real_scores).mean() - div.conjugate_of_activation(fake_scores).mean()


def f_gan_critic_loss(real_scores: Tensor, fake_scores: Tensor, divergence: str) -> Tensor:
    """The f-GAN critic loss ``-F`` (Nowozin et al. 2016, Eq. 6 and 7)."""
    return -f_divergence_estimate(real_scores, fake_scores, divergence)


def f_gan_generator_loss(fake_scores: Tensor, divergence: str) -> Tensor:
    """The f-GAN generator loss ``-E_fake g_f(v)``: the non-saturating alternative that Nowozin et
    al. 2016 use in their experiments (Sec. 3.2), which for ``"gan"`` is the usual
    ``-E log D(G(z))``."""
    return -f_divergence(divergence).activation(fake_scores).mean()


def cramer_critic(h: Tensor, h_reference: Tensor) -> Tensor:
    """The Cramér GAN critic ``f(x) = ||h(x) - h(x'_g)||_2 - ||h(x)||_2`` ``(B,)``.

    Bellemare et al. 2017, "The Cramér Distance as a Solution to Biased Wasserstein Gradients",
    Algorithm 1; ``h`` ``(B, k)`` are the critic network's features of the points, ``h_reference``
    those of an independent generated batch ``x'_g``, one per point.
    """
    return torch.linalg.vector_norm(h - h_reference, dim=1) - torch.linalg.vector_norm(h, dim=1)


def cramer_generator_loss(h_real: Tensor, h_fake: Tensor, h_fake_other: Tensor) -> Tensor:
    """The generator loss of Cramér GAN (Bellemare et al. 2017, Algorithm 1)::

        L_g = E ||h(x_r) - h(x_g)|| + E ||h(x_r) - h(x'_g)|| - E ||h(x_g) - h(x'_g)||

    an unbiased estimate of the energy distance ``2 E||X - Y|| - E||X - X'|| - E||Y - Y'||``
    between the real and generated feature distributions, less the constant ``E||X - X'||``.
    """

    def mean_distance(a: Tensor, b: Tensor) -> Tensor:
        return torch.linalg.vector_norm(a - b, dim=1).mean()

    return (
        mean_distance(h_real, h_fake)
        + mean_distance(h_real, h_fake_other)
        - mean_distance(h_fake, h_fake_other)
    )


LSGAN_CODINGS = {"0-1-1": (0.0, 1.0, 1.0), "-1-1-0": (-1.0, 1.0, 0.0)}


def lsgan_coding(name: str) -> tuple[float, float, float]:
    """The labels ``(a, b, c)`` of LSGAN's coding ``name``: fake, real, and what the generator
    wants the critic to say of its samples (Mao et al. 2017, Sec. 3.2.3)."""
    if name not in LSGAN_CODINGS:
        raise ConfigError(f"coding must be one of {sorted(LSGAN_CODINGS)}, got {name!r}.")
    return LSGAN_CODINGS[name]


def lsgan_critic_loss(real_scores: Tensor, fake_scores: Tensor, coding: str = "0-1-1") -> Tensor:
    """``1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2`` (Mao et al. 2017, "Least squares generative
    adversarial networks", Eq. 2) with the coding's ``a`` (fake) and ``b`` (real)."""
    a, b, _ = lsgan_coding(coding)
    return 0.5 * (real_scores - b).pow(2).mean() + 0.5 * (fake_scores - a).pow(2).mean()


def lsgan_generator_loss(fake_scores: Tensor, coding: str = "0-1-1") -> Tensor:
    """``1/2 E (D(G(z)) - c)^2`` (Mao et al. 2017, Eq. 2) with the coding's ``c``: 1 in the 0-1-1
    coding (Eq. 9), 0 in the -1-1-0 one (Eq. 8, which minimises the Pearson chi^2 divergence)."""
    _, _, c = lsgan_coding(coding)
    return 0.5 * (fake_scores - c).pow(2).mean()


# -- autoencoders -------------------------------------------------------------------------------

WAE_KERNEL_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
MMD_KERNELS = ("imq", "rbf")


def reconstruction_cost(x: Tensor, y: Tensor) -> Tensor:
    """``E c(X, Y)`` with ``c(x, y) = ||x - y||_2^2`` summed over every pixel (or coordinate),
    averaged over the batch: the cost of every experiment of Tolstikhin et al. 2018, Sec. 4."""
    return (x - y).pow(2).flatten(1).sum(1).mean()


def gaussian_kl_to_standard_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mean, diag exp(logvar)) || N(0, I))`` per sample, averaged over the batch:
    ``1/2 sum_j (mean_j^2 + exp(logvar_j) - 1 - logvar_j)`` (Kingma & Welling 2014,
    "Auto-Encoding Variational Bayes", Appendix B)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()


def latent_kernel(x: Tensor, y: Tensor, kernel: str = "imq", prior_variance: float = 1.0) -> Tensor:
    """The kernel matrix ``(n, m)`` of WAE-MMD, summed over the bandwidths ``C s`` for the scales
    ``s`` in :data:`WAE_KERNEL_SCALES`, ``C = 2 d sigma_z^2`` (``d`` the code size).

    ``"imq"``: the inverse multiquadratic ``C / (C + ||x - y||^2)`` (Tolstikhin et al. 2018,
    Sec. 4; the sum over scales is the authors' code). ``"rbf"``: ``exp(-||x - y||^2 / C)`` over
    the same bandwidths (the authors' code picks one RBF bandwidth by a median heuristic instead).
    """
    if kernel not in MMD_KERNELS:
        raise ConfigError(f"kernel must be one of {MMD_KERNELS}, got {kernel!r}.")
    sq_dists = torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist").pow(2)
    base = 2.0 * x.shape[1] * prior_variance
    total = torch.zeros_like(sq_dists)
    for scale in WAE_KERNEL_SCALES:
        c = base * scale
        total = total + (c / (c + sq_dists) if kernel == "imq" else torch.exp(-sq_dists / c))
    return total


def mmd_unbiased(x: Tensor, y: Tensor, kernel: str = "imq", prior_variance: float = 1.0) -> Tensor:
    """The unbiased U-statistic estimate of ``MMD_k^2`` between samples ``x (n, d)`` and
    ``y (m, d)``:

    ``1/(n(n-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j)
    - 2/(nm) sum_{i,j} k(x_i, y_j)`` (Gretton et al. 2012, Lemma 6; Tolstikhin et al. 2018,
    Algorithm 2), with :func:`latent_kernel`. Its expectation is zero when both samples come from
    one distribution, so single estimates can be negative.
    """
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ConfigError(f"the MMD U-statistic needs at least 2 points per side, got {n} and {m}.")

    def within(a: Tensor) -> Tensor:
        k = latent_kernel(a, a, kernel, prior_variance)
        return (k.sum() - k.diagonal().sum()) / (a.shape[0] * (a.shape[0] - 1))

    cross = latent_kernel(x, y, kernel, prior_variance).mean()
    return within(x) + within(y) - 2.0 * cross


# -- autoencoder regularisers --------------------------------------------------------------------

CORRUPTIONS = ("gaussian", "masking")


def corrupt(x: Tensor, kind: str, level: float, noise: Tensor) -> Tensor:
    """The denoising autoencoder's corrupted input ``x~ ~ q_D(x~ | x)`` (Vincent, Larochelle,
    Bengio, Manzagol 2008, "Extracting and composing robust features with denoising
    autoencoders": the corruption process ``q_D`` and the objective that reconstructs ``x`` from
    ``x~``): ``"masking"`` sets a random fraction ``level`` of each sample's
    entries to the data's floor (-1 for images in [-1, 1]; the paper's 0 for [0, 1] pixels),
    ``"gaussian"`` adds ``N(0, level^2)`` noise. ``noise`` (shaped as ``x``) holds the draws:
    ``U[0, 1)`` for masking (an entry is dropped where its draw is below ``level``), ``N(0, 1)``
    for Gaussian. The autoencoder is then trained to reconstruct the clean ``x`` from ``x~``."""
    if kind not in CORRUPTIONS:
        raise ConfigError(f"corruption must be one of {CORRUPTIONS}, got {kind!r}.")
    if kind == "gaussian":
        return x + level * noise
    return torch.where(noise < level, torch.full_like(x, -1.0), x)


def l1_sparsity(codes: Tensor) -> Tensor:
    """``E sum_j |h_j|``, the L1 sparsity penalty on the codes ``h`` ``(B, d)`` (Goodfellow,
    Bengio, Courville 2016, "Deep Learning", Sec. 14.2.1: ``Omega(h) = lambda sum_i |h_i|``)."""
    return codes.abs().sum(1).mean()


def kl_sparsity(activations: Tensor, target: float) -> Tensor:
    """``sum_j KL(rho || rho^_j) = sum_j rho log(rho / rho^_j) + (1 - rho) log((1 - rho) / (1 -
    rho^_j))`` with ``rho^_j`` the batch's mean activation of unit ``j`` (in (0, 1), e.g. a
    sigmoid of the codes) and ``rho`` the target (Ng 2011, "Sparse autoencoder", CS294A lecture
    notes, section "Autoencoders and sparsity": the penalty term of the sparse cost J_sparse)."""
    rho_hat = activations.mean(0).clamp(1e-6, 1 - 1e-6)
    rho = target
    return (rho * (rho / rho_hat).log() + (1 - rho) * ((1 - rho) / (1 - rho_hat)).log()).sum()


def contractive_penalty(x: Tensor, codes: Tensor) -> Tensor:
    """``E ||J_f(x)||_F^2 = E sum_ij (d h_j / d x_i)^2``, the squared Frobenius norm of the
    encoder's Jacobian at each sample, averaged over the batch: the penalty of the objective
    ``J_CAE`` (Rifai, Vincent, Muller, Glorot, Bengio 2011, "Contractive auto-encoders: explicit
    invariance during feature extraction", Sec. 3). ``codes = f(x)`` must be computed from
    ``x`` with gradients on; one backward pass per code dimension, kept in the graph so that the
    penalty trains the encoder. Samples are taken as independent (a batch-norm layer in training
    mode couples them by O(1/B))."""
    total = codes.new_zeros(())
    for j in range(codes.shape[1]):
        (rows,) = torch.autograd.grad(codes[:, j].sum(), x, create_graph=True)
        total = total + rows.pow(2).sum()
    return total / codes.shape[0]


def contrast_normalise(z: Tensor, others: Tensor, full: bool = False) -> tuple[Tensor, Tensor]:
    """Adaptive contrast's ``z~ = L^-1 (z - mu)`` and ``log det L`` per image, where ``r(z | x) =
    N(mu, L L^T)`` has the moments of ``others`` (``(n, B, d)``, ``n`` other codes per image):
    the per-coordinate ``L = diag(sigma)`` of Mescheder et al. 2017 ("Adversarial Variational
    Bayes", Sec. 3.3), or with ``full`` the Cholesky factor of the full covariance (unbiased,
    plus ``1e-8 I``), which also whitens posteriors whose spread lies along a few directions
    (beyond the paper: docs/autoencoders.md)."""
    mean = others.mean(0)
    if not full:
        std = others.std(0).clamp_min(1e-4)
        return (z - mean) / std, std.log().sum(-1)
    centred = others - mean
    covariance = torch.einsum("nbi,nbj->bij", centred, centred) / (len(others) - 1)
    eye = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)
    # _ex: a failed factor (non-finite codes) leaves non-finite values for the loss's own check
    factor = torch.linalg.cholesky_ex(covariance + 1e-8 * eye).L
    normalised = torch.linalg.solve_triangular(factor, (z - mean).unsqueeze(-1), upper=False)
    return normalised.squeeze(-1), factor.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def avb_kl_estimate(t: Tensor, normalised: Tensor, z: Tensor, log_det: Tensor) -> Tensor:
    """``KL(q(z | x) || p(z))`` per image, averaged over the batch, with adaptive contrast
    (Mescheder et al. 2017, "Adversarial Variational Bayes", Sec. 3.3): with ``r(z | x) = N(mu,
    L L^T)`` of ``q``'s moments and ``z~ = L^-1 (z - mu)`` (:func:`contrast_normalise`; the
    paper's ``L = diag(sigma)``), ``log q(z | x) - log p(z) = T*(x, z~) + log r(z | x) - log
    p(z)``, where the adversary ``t = T(x, z~)`` estimates ``log q~(z~ | x) - log N(z~; 0, I)``
    and ``log r - log p = -||z~||^2 / 2 - log det L + ||z||^2 / 2`` (the ``2 pi`` terms cancel;
    ``log det L = sum log sigma`` for the paper's)."""
    gaussian = 0.5 * z.pow(2).sum(1) - 0.5 * normalised.pow(2).sum(1) - log_det
    return (t + gaussian).mean()


# -- BEGAN ----------------------------------------------------------------------------------------


def began_autoencoder_loss(x: Tensor, reconstruction: Tensor, eta: int = 1) -> Tensor:
    """``L(v) = |v - D(v)|^eta`` per sample ``(B,)``, the autoencoder discriminator's pixel-wise
    loss averaged over each sample's entries (Berthelot, Schumm, Metz 2017, "BEGAN: Boundary
    equilibrium generative adversarial networks", Sec. 3.1, Eq. 1; the paper uses ``eta = 1``)."""
    return (x - reconstruction).abs().pow(eta).flatten(1).mean(1)


def began_k_update(
    k: float, real_loss: float, fake_loss: float, gamma: float, lambda_k: float
) -> float:
    """``k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1)``: the proportional control
    that keeps ``E L(G(z)) = gamma E L(x)`` (BEGAN, Sec. 3.4, the objective's third line)."""
    return min(1.0, max(0.0, k + lambda_k * (gamma * real_loss - fake_loss)))


def began_convergence(real_loss: Tensor, fake_loss: Tensor, gamma: float) -> Tensor:
    """``M_global = L(x) + |gamma L(x) - L(G(z_G))|`` (BEGAN, Sec. 3.4.1)."""
    return real_loss + (gamma * real_loss - fake_loss).abs()


# -- WGAN-QC --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchPotentials:
    """The exact optimal transport of one batch (:func:`batch_kantorovich_potentials`): the
    critic's regression targets on the real and the generated samples, the plan, its cost, and
    ``match[j]``, the real sample the plan sends most of generated sample ``j``'s mass to."""

    real_targets: Tensor
    fake_targets: Tensor
    plan: Tensor
    cost: Tensor
    match: Tensor


def quadratic_transport_cost(x: Tensor, y: Tensor, scale: float) -> Tensor:
    """``c(x_i, y_j) = scale / 2 * ||x_i - y_j||^2`` ``(n, m)`` over flattened samples: WGAN-QC's
    quadratic transport cost (Liu, Gu, Samaras 2019, "Wasserstein GAN with quadratic transport
    cost", Sec. 3; ``scale`` is the paper's K, 1 / dimension by default in the authors' code)."""
    diff = x.detach().flatten(1)[:, None, :].double() - y.detach().flatten(1)[None, :, :].double()
    return 0.5 * scale * diff.pow(2).sum(-1)


def batch_kantorovich_potentials(cost: Tensor) -> BatchPotentials:
    """The exact discrete optimal transport between two uniformly weighted batches, solved by
    network simplex (``ot.emd``), and its Kantorovich potentials as WGAN-QC's regression targets
    (Liu et al. 2019, Sec. 3: the discriminator is fitted to the solution of the batch's dual
    linear program ``max (1/n) sum_i phi_i + (1/m) sum_j psi_j`` s.t. ``phi_i + psi_j <= c_ij``).

    The critic ``D`` stands for ``phi`` on real samples and ``-psi`` on generated ones (so
    ``D(x_i) - D(y_j) <= c_ij``, with equality where the plan moves mass); the pair is shifted by
    one constant so that the targets' two means sum to zero (the authors' code centres its
    LP solution this way). ``cost``: ``(n, m)`` from :func:`quadratic_transport_cost`.
    """
    import ot  # imported here: POT loads only for the families that solve a transport problem

    cost64 = cost.detach().double().cpu()
    n, m = cost64.shape
    plan, log = ot.emd(
        torch.full((n,), 1.0 / n, dtype=torch.float64),
        torch.full((m,), 1.0 / m, dtype=torch.float64),
        cost64,
        log=True,
    )
    phi, psi = log["u"], log["v"]
    shift = 0.5 * (phi.mean() - psi.mean())
    to = dict(device=cost.device, dtype=torch.float32)
    return BatchPotentials(
        real_targets=(phi - shift).to(**to),
        fake_targets=(-psi - shift).to(**to),
        plan=plan.to(**to),
        cost=torch.as_tensor(float(log["cost"]), **to),
        match=plan.argmax(0).to(cost.device),
    )


def wgan_qc_regression_loss(
    real_scores: Tensor, fake_scores: Tensor, real_targets: Tensor, fake_targets: Tensor
) -> Tensor:
    """WGAN-QC's deep regression of the critic onto the batch potentials (Liu et al. 2019, Sec.
    3; the authors' code): ``1/2 (mean_i D(x_i) - mean_i phi_i)^2 + 1/2 mean_j (D(y_j) -
    t_j)^2`` with ``t = -psi``: the generated samples' scores are fitted one by one, the real
    ones in their mean, so that ``mean D(x) - mean D(y)`` approaches the batch's transport cost
    (the quadratic Wasserstein distance)."""
    real_term = (real_scores.mean() - real_targets.mean()).pow(2)
    return 0.5 * real_term + 0.5 * (fake_scores - fake_targets).pow(2).mean()


def wgan_qc_transport_regulariser(slopes: Tensor, displacement: Tensor, scale: float) -> Tensor:
    """WGAN-QC's optimal-transport regulariser (OTR; Liu et al. 2019, Sec. 3), without its
    weight: ``E_j (||grad D(y_j)|| - K ||x_sigma(j) - y_j||)^2``. For the quadratic cost the
    optimal map sends ``y`` to ``y + grad D(y) / K`` (Brenier), so the critic's slope at each
    generated sample should be ``K`` times the distance to the real sample ``x_sigma(j)`` the
    batch's plan matches it with. ``slopes``: ``||grad D(y_j)||`` ``(m,)``; ``displacement``:
    ``x_sigma(j) - y_j``. (The authors' code writes it as ``1/2 (|g| / (2 sqrt K) - sqrt K / 2
    |d|)^2`` weighted by ``4 gamma sqrt K``, which is this times ``gamma / (2 sqrt K)``.)"""
    distance = torch.linalg.vector_norm(displacement.detach().flatten(1).float(), dim=1)
    return (slopes - scale * distance).pow(2).mean()


# -- ALI / BiGAN ----------------------------------------------------------------------------------


def ali_discriminator_loss(encoder_logits: Tensor, generator_logits: Tensor) -> Tensor:
    """``-E log D(x, E(x)) - E log(1 - D(G(z), z))`` on the joint discriminator's logits: pairs
    of a data point and its code (label 1) against pairs of a sample and its noise (label 0)
    (Dumoulin et al. 2017, "Adversarially learned inference", the value function V(D, G) and
    Algorithm 1's ``L_d``; Donahue et al. 2017, "Adversarial feature learning", Sec. 3), with
    ``D = sigmoid(logit)``."""
    return nonsaturating_critic_loss(encoder_logits, generator_logits)


def ali_generator_loss(encoder_logits: Tensor, generator_logits: Tensor) -> Tensor:
    """``-E log(1 - D(x, E(x))) - E log D(G(z), z)``, the encoder's and the generator's loss with
    the labels swapped (ALI, Algorithm 1's ``L_g``; BiGAN's "inverted" objective, used in
    practice): the same fixed point as the minimax game, with stronger early gradients."""
    return nonsaturating_critic_loss(generator_logits, encoder_logits)
