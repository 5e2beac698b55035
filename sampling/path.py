"""The forward (noising) path of the source latent: one Brownian path through every sigma."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ._util import check_latent, seeded_normal, work_dtype
from .schedule import NoiseFamily, as_sigma_list, step_coefficients

__all__ = ["BrownianPath", "forward_path", "PATH_KINDS"]

PATH_KINDS = ("brownian", "markov", "resample")


@dataclass(frozen=True)
class BrownianPath:
    """Noisy copies ``X_i`` of a source latent at every sigma of a grid.

    Attributes:
        x0: the source latent (original dtype and device).
        sigmas: the grid, strictly decreasing Python floats, last 0.
        family: the noise family the points are expressed in.
        points: tensor ``(n + 1, *x0.shape)`` in the working dtype (float32 or float64);
            ``points[i]`` is ``X_i`` at ``sigmas[i]`` and ``points[-1]`` equals ``x0`` exactly.
        kind: ``"brownian"`` (one path, top-down posterior sampling), ``"markov"`` (one path,
            bottom-up DDPM Markov chain, Cycle-SDE's construction: same law) or ``"resample"``
            (independent ``X_i`` at every step: the reference's ``resample=True``; with the
            posterior solver this is edit-friendly DDPM inversion).
        seed: the seed the noise came from.
    """

    x0: torch.Tensor
    sigmas: tuple
    family: NoiseFamily
    points: torch.Tensor
    kind: str
    seed: int

    @property
    def steps(self) -> int:
        return len(self.sigmas) - 1

    def noise_free(self, i: int) -> torch.Tensor:
        """``X_i - a(sigma_i) * x0``: the noise part of point ``i`` (std ``sigma_i`` per element)."""
        return self.points[i] - self.family.alpha(self.sigmas[i]) * self.x0.to(self.points.dtype)


def forward_path(x0: torch.Tensor, sigmas, family, *, seed: int = 0, kind: str = "brownian") -> BrownianPath:
    """Noise ``x0`` along one Brownian path through every sigma of ``sigmas``.

    Args:
        x0: source latent, any shape (``(B, C, H, W)`` for images), in the model's native
            coordinates (the same latent a sampler would return).
        sigmas: strictly decreasing noise levels ending at 0 (``torch.Tensor`` or sequence).
            The first value is where editing starts: a start index is expressed by slicing.
            For the flow family it may be 1 (pure noise).
        family: :class:`NoiseFamily` (or ``"flow"`` / ``"ve"``).
        seed: seed of a local generator; the global RNG is neither used nor touched.
        kind: ``"brownian"`` (default), ``"markov"`` or ``"resample"``, see :class:`BrownianPath`.

    The Brownian path is sampled top-down (docs/ALGORITHMS.md section 2):
    ``X_0 = a_0 x0 + sigma_0 xi_0`` and ``X_{i+1} = A_i X_i + B_i x0 + C_i xi_{i+1}``, with the
    DDPM-posterior coefficients (the reverse step with the oracle denoiser ``D = x0``). That is
    the exact joint law of ``u(s) = x0 + B(s^2)`` and is finite at a flow sigma of 1.
    """
    family = NoiseFamily.parse(family)
    check_latent(x0, "x0")
    sig = as_sigma_list(sigmas, family)
    if kind not in PATH_KINDS:
        raise ValueError(f"kind: expected one of {PATH_KINDS}, got {kind!r}")
    dtype = work_dtype(x0.dtype)
    x = x0.to(dtype)
    n = len(sig) - 1
    xi = seeded_normal(x.shape, seed, n + 1, x.device, dtype)
    points = torch.empty((n + 1, *x.shape), dtype=dtype, device=x.device)
    if kind == "brownian":
        points[0] = family.alpha(sig[0]) * x + sig[0] * xi[0]
        for i, c in enumerate(step_coefficients(family, sig, "posterior")):
            points[i + 1] = c.A * points[i] + c.B * x + c.C * xi[i + 1]
    elif kind == "markov":
        # Bottom-up DDPM chain: X_i = (a_i / a_{i+1}) X_{i+1} + sqrt(sigma_i^2 - (a_i sigma_{i+1} / a_{i+1})^2) xi_i
        points[n] = x
        for i in range(n - 1, -1, -1):
            a_i, a_next = family.alpha(sig[i]), family.alpha(sig[i + 1])
            scale = a_i / a_next
            std = max(0.0, sig[i] ** 2 - (scale * sig[i + 1]) ** 2) ** 0.5
            points[i] = scale * points[i + 1] + std * xi[i]
    else:
        for i in range(n):
            points[i] = family.alpha(sig[i]) * x + sig[i] * xi[i]
    points[n] = x  # sigma = 0: the source itself, bit for bit
    return BrownianPath(x0=x0, sigmas=tuple(sig), family=family, points=points, kind=kind, seed=seed)


def subsample_path(path: BrownianPath, indices: Sequence[int]) -> BrownianPath:
    """The same path seen on a coarser grid ``sigmas[indices]`` (must keep the last point).

    Points of one Brownian path restricted to fewer sigmas are again a Brownian path on the
    coarser grid, so a coarse solve and a fine solve can be compared on the same randomness.
    """
    idx = list(indices)
    if not idx or idx[-1] != path.steps or any(b <= a for a, b in zip(idx, idx[1:])):
        raise ValueError("indices: expected increasing indices into the path that end at its last point")
    if path.kind == "resample":
        raise ValueError("path: a resampled path is not one Brownian path and cannot be subsampled")
    return BrownianPath(
        x0=path.x0,
        sigmas=tuple(path.sigmas[i] for i in idx),
        family=path.family,
        points=path.points[idx].clone(),
        kind=path.kind,
        seed=path.seed,
    )
