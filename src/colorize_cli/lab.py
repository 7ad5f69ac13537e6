"""sRGB <-> CIE Lab maths on torch tensors.

Pure functions on ``(*, 3, H, W)`` tensors: device and dtype follow the input, nothing is
read, written or printed. Ranges: sRGB in [0, 1]; L in [0, 100]; in the sRGB gamut a spans
about -86..98 and b about -108..94 (not the +-128 often quoted).

Every constant is defined once here. The reference white is derived from the RGB->XYZ
matrix (the XYZ of RGB = 1, 1, 1), so any grey maps to a = b = 0 exactly and a = b = 0
maps back to a grey; scikit-image uses a separately typed D65 white, which differs in the
fourth decimal, so results agree with it to within a few hundredths of a Lab unit.
"""

from __future__ import annotations

import torch

# sRGB (D65) linear RGB -> XYZ, as in IEC 61966-2-1 and scikit-image.
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_EPSILON = (6.0 / 29.0) ** 3  # CIE: below this, f(t) is linear
_KAPPA = 1.0 / (3.0 * (6.0 / 29.0) ** 2)
_DELTA = 6.0 / 29.0


def _matrix(like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(_XYZ_FROM_RGB, dtype=like.dtype, device=like.device)


def _white(like: torch.Tensor) -> torch.Tensor:
    """XYZ of linear RGB (1, 1, 1): the white the matrix itself implies."""
    return _matrix(like).sum(dim=1)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve; values in [0, 1]."""
    return torch.where(
        rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4
    )


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB transfer curve; negative values stay linear so the inverse is exact."""
    return torch.where(
        lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp(min=0.0031308) ** (1.0 / 2.4) - 0.055
    )


def _f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _EPSILON, t.clamp(min=_EPSILON) ** (1.0 / 3.0), t * _KAPPA + 4.0 / 29.0)


def _f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _DELTA, t**3, (t - 4.0 / 29.0) / _KAPPA)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(*, 3, H, W)`` in [0, 1] -> Lab ``(*, 3, H, W)``."""
    lin = srgb_to_linear(rgb)
    xyz = torch.einsum("ij,...jhw->...ihw", _matrix(rgb), lin)
    fx, fy, fz = _f(xyz / _white(rgb)[:, None, None]).unbind(dim=-3)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def lab_to_linear(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(*, 3, H, W)`` -> linear RGB, unclipped (out-of-gamut values fall outside [0, 1])."""
    L, a, b = lab.unbind(dim=-3)
    fy = (L + 16.0) / 116.0
    f = torch.stack((fy + a / 500.0, fy, fy - b / 200.0), dim=-3)
    xyz = _f_inv(f) * _white(lab)[:, None, None]
    return torch.einsum("ij,...jhw->...ihw", torch.linalg.inv(_matrix(lab)), xyz)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(*, 3, H, W)`` -> sRGB clipped to [0, 1]."""
    return linear_to_srgb(lab_to_linear(lab)).clamp(0.0, 1.0)


def rgb_to_luminance(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(*, 3, H, W)`` in [0, 1] -> relative luminance Y ``(*, H, W)`` in [0, 1]."""
    return torch.einsum("j,...jhw->...hw", _matrix(rgb)[1], srgb_to_linear(rgb))


def gray_to_l(gray: torch.Tensor) -> torch.Tensor:
    """Grey sRGB values in [0, 1] (any shape) -> L in [0, 100].

    A grey's luminance Y equals its linear value because the matrix's Y row sums to 1.
    """
    return 116.0 * _f(srgb_to_linear(gray)) - 16.0


def l_to_gray(L: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`gray_to_l`: the grey sRGB value, in [0, 1], of lightness L."""
    return linear_to_srgb(_f_inv((L + 16.0) / 116.0)).clamp(0.0, 1.0)


def fit_ab_to_gamut(lab: torch.Tensor, steps: int = 12) -> torch.Tensor:
    """Shrink a/b toward grey where a colour lies outside sRGB, keeping L exactly.

    Clipping RGB channels would change lightness, which must stay the photograph's own; a
    per-pixel bisection on the chroma scale (only over out-of-gamut pixels, usually few)
    finds the most saturated in-gamut colour of the same hue and L.
    """
    tol = 1e-4
    lin = lab_to_linear(lab)
    outside = ((lin < -tol) | (lin > 1.0 + tol)).any(dim=-3)
    if not bool(outside.any()):
        return lab
    moved = lab.movedim(-3, -1)  # (*, H, W, 3) so pixels can be gathered by mask
    px = moved[outside]  # (N, 3)
    lo = torch.zeros(px.shape[0], dtype=lab.dtype, device=lab.device)
    hi = torch.ones_like(lo)
    for _ in range(steps):
        mid = (lo + hi) / 2
        trial = torch.cat((px[:, :1], px[:, 1:] * mid[:, None]), dim=1)
        rgb = lab_to_linear(trial.T[:, :, None]).squeeze(-1).T
        ok = ((rgb >= -tol) & (rgb <= 1.0 + tol)).all(dim=1)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    fitted = moved.clone()
    fitted[outside] = torch.cat((px[:, :1], px[:, 1:] * lo[:, None]), dim=1)
    return fitted.movedim(-1, -3)
