"""Noise families, sigma grids and the per-step coefficients every sampler here shares.

Every model ComfyUI runs is in one of two families (docs/ALGORITHMS.md section 1):

* ``VE``   (EPS, V-prediction, EDM: SD1.5, SDXL, SD2):  ``x = x0 + sigma * eps``
* ``FLOW`` (CONST / rectified flow: Flux, SD3, ...):     ``x = (1 - sigma) * x0 + sigma * eps``

Both are ``x = a(sigma) * x0 + sigma * eps`` with ``a = 1`` or ``a = 1 - sigma``; in VE
coordinates ``u = x / a``, ``s = sigma / a`` they are the same process ``u = x0 + s * eps``.
Every linear step of the form ``x' = A x + B D + C w`` is written here once, in native
coordinates, with coefficients that stay finite at a flow model's ``sigma = 1`` (``a = 0``):
nothing divides by ``a(sigma_i)``.

Coefficients are computed in Python floats (float64) from the sigma grid.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["NoiseFamily", "StepCoefficients", "as_sigma_list", "check_solver", "step_coefficients", "SOLVERS"]

SOLVERS = ("posterior", "euler")


class NoiseFamily(str, enum.Enum):
    """How a model noises a clean latent ``x0`` at noise level ``sigma``."""

    FLOW = "flow"  # x = (1 - sigma) x0 + sigma eps   (rectified flow; sigma in [0, 1])
    VE = "ve"  # x = x0 + sigma eps                   (how ComfyUI runs EPS / V / EDM models)

    @classmethod
    def parse(cls, family) -> "NoiseFamily":
        """Accept a ``NoiseFamily`` or its name (``"flow"``, ``"ve"``, any case)."""
        if isinstance(family, cls):
            return family
        if isinstance(family, str):
            try:
                return cls(family.lower())
            except ValueError:
                pass
        raise ValueError(
            f"family: expected NoiseFamily.FLOW or NoiseFamily.VE (or 'flow' / 've'), got {family!r}"
        )

    def alpha(self, sigma: float) -> float:
        """Signal scale ``a(sigma)``: the coefficient of ``x0`` in the noisy latent."""
        return 1.0 - sigma if self is NoiseFamily.FLOW else 1.0

    def vp_scale(self, sigma: float) -> float:
        """Factor that maps a noisy latent to unit-variance (VP-normalised) coordinates.

        ``x * vp_scale(sigma)`` has signal coefficient ``a / sqrt(a^2 + sigma^2)`` and noise std
        ``sigma / sqrt(a^2 + sigma^2)``, whose squares sum to 1, as in a DDPM (VP) latent.
        """
        a = self.alpha(sigma)
        return 1.0 / math.sqrt(a * a + sigma * sigma)


def as_sigma_list(sigmas, family: NoiseFamily, name: str = "sigmas") -> list[float]:
    """Validate a sigma grid and return it as Python floats.

    Requirements: 1-D, at least two values, finite, strictly decreasing, last value exactly 0,
    first value > 0, and for the flow family every value <= 1.
    """
    if isinstance(sigmas, torch.Tensor):
        if sigmas.dim() != 1:
            raise ValueError(f"{name}: expected a 1-D sequence of noise levels, got shape {tuple(sigmas.shape)}")
        values = [float(v) for v in sigmas.detach().to("cpu", torch.float64)]
    else:
        try:
            values = [float(v) for v in sigmas]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected a 1-D sequence of noise levels, got {sigmas!r}") from exc
    if len(values) < 2:
        raise ValueError(f"{name}: need at least two noise levels (one step), got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name}: all noise levels must be finite, got {values}")
    if any(b >= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{name}: noise levels must be strictly decreasing, got {_short(values)}")
    if values[-1] != 0.0:
        raise ValueError(f"{name}: the last noise level must be 0 (a fully denoised end), got {values[-1]}")
    if family is NoiseFamily.FLOW and values[0] > 1.0:
        raise ValueError(f"{name}: flow-family noise levels must lie in [0, 1], got a first value of {values[0]}")
    return values


def _short(values: Sequence[float]) -> str:
    text = ", ".join(f"{v:.4g}" for v in values[:8])
    return f"[{text}{', ...' if len(values) > 8 else ''}]"


@dataclass(frozen=True)
class StepCoefficients:
    """One step ``x_{i+1} = A * x_i + B * D(x_i, sigma_i) + C * w``, ``w ~ N(0, I)``."""

    A: float
    B: float
    C: float


def _posterior(family: NoiseFamily, s_hi: float, s_lo: float) -> StepCoefficients:
    # DDPM posterior q(x_lo | x_hi, x0 = D) (exponential integrator of the reverse SDE):
    # in VE coordinates  u_lo = D + rho (u_hi - D) + s_lo sqrt(1 - rho) w,  rho = s_lo^2 / s_hi^2.
    a_hi, a_lo = family.alpha(s_hi), family.alpha(s_lo)
    ratio = (s_lo * a_hi) / (s_hi * a_lo)  # s_lo / s_hi, finite (0) at a flow sigma of 1
    rho = ratio * ratio
    return StepCoefficients(
        A=(s_lo * s_lo * a_hi) / (s_hi * s_hi * a_lo),  # a_lo * rho / a_hi, without dividing by a_hi
        B=a_lo * (1.0 - rho),
        C=s_lo * math.sqrt(max(0.0, 1.0 - rho)),
    )


def _euler(family: NoiseFamily, s_hi: float, s_lo: float) -> StepCoefficients:
    # Euler-Maruyama of the reverse SDE in sigma-time, native coordinates.
    # FLOW: the sync-SDE reference code's step, drift 2 (D - x) / sigma - x / (1 - sigma),
    #       noise sqrt(2 sigma dt / (1 - sigma)); singular at sigma = 1.
    # VE:   the same construction for x = x0 + sigma eps (forward dx = sqrt(2 sigma) dW):
    #       drift 2 (D - x) / sigma, noise sqrt(2 sigma dt).  [derived]
    dt = s_hi - s_lo
    if family is NoiseFamily.FLOW:
        if s_hi >= 1.0:
            raise ValueError(
                "sigmas: the 'euler' solver is singular at sigma = 1 for the flow family "
                "(it divides by 1 - sigma); start at a later step or use solver='posterior'"
            )
        return StepCoefficients(
            A=1.0 - 2.0 * dt / s_hi - dt / (1.0 - s_hi),
            B=2.0 * dt / s_hi,
            C=math.sqrt(2.0 * s_hi * dt / (1.0 - s_hi)),
        )
    return StepCoefficients(A=1.0 - 2.0 * dt / s_hi, B=2.0 * dt / s_hi, C=math.sqrt(2.0 * s_hi * dt))


def _ode(family: NoiseFamily, s_hi: float, s_lo: float) -> StepCoefficients:
    # DDIM / exponential integrator of the probability-flow ODE: u_lo = D + (s_lo / s_hi)(u_hi - D).
    # For the flow family this is exactly the Euler step x + (s_lo - s_hi) * (x - D) / s_hi.
    a_hi, a_lo = family.alpha(s_hi), family.alpha(s_lo)
    return StepCoefficients(A=s_lo / s_hi, B=a_lo - s_lo * a_hi / s_hi, C=0.0)


_STEPS = {"posterior": _posterior, "euler": _euler, "ode": _ode}


def check_solver(solver) -> str:
    """A solver name the coupled samplers accept (``SOLVERS``), or a ValueError naming ``solver``."""
    if solver not in SOLVERS:
        raise ValueError(f"solver: expected one of {SOLVERS}, got {solver!r}")
    return solver


def step_coefficients(family: NoiseFamily, sigmas: Sequence[float], solver: str) -> list[StepCoefficients]:
    """Coefficients of every step of ``sigmas`` (validated beforehand) for ``solver``.

    ``solver`` is ``"posterior"`` (DDPM posterior / exponential integrator, the default and
    the Cycle-SDE step), ``"euler"`` (Euler-Maruyama, the sync-SDE reference code's step) or
    ``"ode"`` (DDIM, deterministic; used by the ODE baselines).
    """
    try:
        make = _STEPS[solver]
    except (KeyError, TypeError):
        raise ValueError(f"solver: expected one of {SOLVERS}, got {solver!r}") from None
    return [make(family, s_hi, s_lo) for s_hi, s_lo in zip(sigmas, sigmas[1:])]
