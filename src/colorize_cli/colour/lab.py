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
# f_inv(t) = t^3 above F_KNEE, F_SLOPE * (t - F_OFFSET) below: named for compiled loops
F_KNEE, F_SLOPE, F_OFFSET = _DELTA, 1.0 / _KAPPA, 4.0 / 29.0
# The Lab definition: L = 116 f(Y) - 16, a = 500 (f(X) - f(Y)), b = 200 (f(Y) - f(Z)).
L_SCALE, L_OFFSET, A_SCALE, B_SCALE = 116.0, 16.0, 500.0, 200.0


_RGB_FROM_XYZ = torch.linalg.inv(torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64)).tolist()


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


def f_inv(t: torch.Tensor) -> torch.Tensor:
    """The inverse of Lab's companding function f."""
    return torch.where(t > F_KNEE, t * t * t, (t - F_OFFSET) * F_SLOPE)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(*, 3, H, W)`` in [0, 1] -> Lab ``(*, 3, H, W)``."""
    lin = srgb_to_linear(rgb)
    xyz = torch.einsum("ij,...jhw->...ihw", _matrix(rgb), lin)
    fx, fy, fz = _f(xyz / _white(rgb)[:, None, None]).unbind(dim=-3)
    return torch.stack((L_SCALE * fy - L_OFFSET, A_SCALE * (fx - fy), B_SCALE * (fy - fz)), dim=-3)


def lab_to_linear(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(*, 3, H, W)`` -> linear RGB, unclipped (out-of-gamut values fall outside [0, 1])."""
    L, a, b = lab.unbind(dim=-3)
    fy = (L + L_OFFSET) / L_SCALE
    f = torch.stack((fy + a / A_SCALE, fy, fy - b / B_SCALE), dim=-3)
    return torch.einsum("ij,...jhw->...ihw", linear_from_f_matrix(lab), f_inv(f))


def linear_from_f_matrix(like: torch.Tensor) -> torch.Tensor:
    """``(3, 3)``: linear RGB = this @ f_inv((fx, fy, fz)); the white folded into the
    XYZ -> RGB matrix, so Lab -> linear RGB is one product after f_inv."""
    inverse = torch.tensor(_RGB_FROM_XYZ, dtype=like.dtype, device=like.device)
    return inverse * _white(like)[None, :]


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
    return L_SCALE * _f(srgb_to_linear(gray)) - L_OFFSET


def l_to_gray(L: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`gray_to_l`: the grey sRGB value, in [0, 1], of lightness L."""
    return linear_to_srgb(f_inv((L + L_OFFSET) / L_SCALE)).clamp(0.0, 1.0)


def max_chroma_table(l_steps: int = 101, hue_steps: int = 360, iters: int = 24) -> torch.Tensor:
    """Largest in-gamut chroma ``(l_steps, hue_steps)`` float64 for L = 0..100 and hue
    angles 0..2*pi (the last column repeats the first, so lookups can interpolate across
    the seam). Found by bisection on :func:`lab_to_linear`; the sRGB slice of each L is
    star-shaped around grey, so bisection along each hue ray is exact.
    """
    L = torch.linspace(0, 100, l_steps, dtype=torch.float64)[:, None].expand(-1, hue_steps)
    h = torch.linspace(0, 2 * torch.pi, hue_steps, dtype=torch.float64)[None].expand(l_steps, -1)
    lo, hi = torch.zeros_like(L), torch.full_like(L, 200.0)
    for _ in range(iters):
        mid = (lo + hi) / 2
        lin = lab_to_linear(torch.stack((L, mid * torch.cos(h), mid * torch.sin(h))))
        ok = ((lin >= 0) & (lin <= 1)).all(dim=0)
        lo, hi = torch.where(ok, mid, lo), torch.where(ok, hi, mid)
    return lo
