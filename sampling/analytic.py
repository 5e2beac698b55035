"""An analytic test bed: isotropic Gaussian-mixture data with its exact denoisers.

For data ``x0 ~ sum_k pi_k N(mu_k, tau_k^2 I)`` noised as ``x = a x0 + sigma eps`` (either family),
everything is closed-form: component ``k`` of the noisy marginal is ``N(a mu_k, (a^2 tau_k^2 + sigma^2) I)``
and ``E[x0 | x, k] = mu_k + a tau_k^2 / (a^2 tau_k^2 + sigma^2) (x - a mu_k)``. The exact denoiser is
their responsibility-weighted sum; a class-conditional denoiser (the "prompt") uses one component.
All formulas are finite at a flow ``sigma = 1`` (``a = 0``). Latents are ``(N, d)`` tensors.
"""

from __future__ import annotations

import math

import torch

from .schedule import NoiseFamily

__all__ = ["GaussianMixture"]


class GaussianMixture:
    """``K`` isotropic Gaussian components in ``d`` dimensions.

    Args:
        means: ``(K, d)``.
        stds: ``(K,)`` or a float: per-component standard deviation ``tau_k``.
        weights: ``(K,)`` mixture weights (normalised here), default uniform.
    """

    def __init__(self, means, stds=0.5, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float64)
        if self.means.dim() != 2:
            raise ValueError(f"means: expected shape (K, d), got {tuple(self.means.shape)}")
        k = self.means.shape[0]
        self.stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()
        w = torch.ones(k, dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        self.weights = w / w.sum()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, component=None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples (float32) and their component labels, from a local generator.

        ``component``: ``None`` (the whole mixture), an index or a list of indices (a class).
        """
        gen = torch.Generator().manual_seed(seed)
        comps = torch.arange(self.means.shape[0]) if component is None else \
            torch.tensor(component, dtype=torch.long).reshape(-1)
        w = self.weights[comps]
        labels = comps[torch.multinomial(w / w.sum(), n, replacement=True, generator=gen)]
        z = torch.randn(n, self.dim, generator=gen, dtype=torch.float64)
        x = self.means[labels] + self.stds[labels, None] * z
        return x.float(), labels

    def _log_resp_and_means(self, x: torch.Tensor, a: float, sigma: float, comps: torch.Tensor):
        xd = x.to(torch.float64)
        mu, tau2 = self.means[comps], self.stds[comps] ** 2
        var = a * a * tau2 + sigma * sigma  # (K,)
        diff = xd[:, None, :] - a * mu[None]  # (N, K, d)
        logp = torch.log(self.weights[comps])[None] - 0.5 * self.dim * torch.log(var)[None] \
            - 0.5 * (diff ** 2).sum(-1) / var[None]
        post_mean = mu[None] + (a * tau2 / var)[None, :, None] * diff
        return logp, post_mean

    def denoiser(self, family, component=None, guidance: float = 1.0):
        """Exact ``D(x, sigma) = E[x0 | x]`` for ``family``.

        ``component``: ``None`` (the whole mixture), an index, or a list of indices (a "class"
        made of several components: its denoiser is itself a mixture denoiser, nonlinear in x).

        ``guidance`` != 1 applies classifier-free guidance ``D_u + w (D_c - D_u)`` against the
        unconditional (full-mixture) denoiser.
        """
        family = NoiseFamily.parse(family)
        all_comps = torch.arange(self.means.shape[0])
        comps = all_comps if component is None else torch.tensor(component, dtype=torch.long).reshape(-1)

        def posterior(x, sigma, cs):
            s = float(sigma)
            logp, means = self._log_resp_and_means(x, family.alpha(s), s, cs)
            resp = torch.softmax(logp, dim=1)
            return (resp[..., None] * means).sum(1)

        def denoise(x: torch.Tensor, sigma) -> torch.Tensor:
            d = posterior(x, sigma, comps)
            if guidance != 1.0:
                d_u = posterior(x, sigma, all_comps)
                d = d_u + guidance * (d - d_u)
            return d.to(x.dtype)

        return denoise

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Most likely component of clean samples ``x`` (``(N,)`` labels)."""
        logp, _ = self._log_resp_and_means(x, 1.0, 0.0, torch.arange(self.means.shape[0]))
        return logp.argmax(1)

    def marginal_cdf(self, x: torch.Tensor, family, sigma: float) -> torch.Tensor:
        """CDF of the 1-D noisy marginal at ``sigma`` (``d`` must be 1); ``x`` any shape."""
        if self.dim != 1:
            raise ValueError("marginal_cdf: only for 1-D mixtures")
        a = NoiseFamily.parse(family).alpha(float(sigma))
        std = torch.sqrt(a * a * self.stds ** 2 + float(sigma) ** 2)
        z = (x.to(torch.float64)[..., None] - a * self.means[:, 0]) / std
        return (self.weights * 0.5 * (1 + torch.erf(z / math.sqrt(2)))).sum(-1)
