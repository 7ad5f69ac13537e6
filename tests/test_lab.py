"""Colour maths against scikit-image, and its own invariants."""

import numpy as np
import pytest
import torch
from skimage import color

from colorize_cli.colour import lab

# Our white comes from the sRGB matrix; scikit-image types D65 separately. The two agree
# to within this many Lab units over the whole gamut.
LAB_TOL = 0.01


@pytest.fixture
def rgb():
    rng = np.random.default_rng(1)
    return rng.random((3, 40, 50))


def test_rgb_to_lab_matches_scikit_image(rgb):
    ref = color.rgb2lab(rgb.transpose(1, 2, 0)).transpose(2, 0, 1)
    ours = lab.rgb_to_lab(torch.from_numpy(rgb)).numpy()
    assert np.abs(ours - ref).max() < LAB_TOL


def test_lab_to_rgb_matches_scikit_image(rgb):
    lab_ref = color.rgb2lab(rgb.transpose(1, 2, 0))
    ref = color.lab2rgb(lab_ref).transpose(2, 0, 1)
    ours = lab.lab_to_rgb(torch.from_numpy(lab_ref.transpose(2, 0, 1).copy())).numpy()
    assert np.abs(ours - ref).max() < 1e-3


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_round_trip(rgb, dtype, tol):
    x = torch.from_numpy(rgb).to(dtype)
    assert (lab.lab_to_rgb(lab.rgb_to_lab(x)) - x).abs().max() < tol


def test_grey_is_exactly_neutral():
    grey = torch.linspace(0, 1, 11).reshape(1, 11, 1).expand(3, 11, 1).double()
    out = lab.rgb_to_lab(grey)
    assert out[1:].abs().max() < 1e-12
    assert (lab.lab_to_rgb(out) - grey).abs().max() < 1e-9


def test_gray_to_l_agrees_with_rgb_to_lab_and_inverts():
    g = torch.rand(500, dtype=torch.float64)
    via_rgb = lab.rgb_to_lab(g.reshape(1, 1, -1).expand(3, 1, -1))[0, 0]
    assert (lab.gray_to_l(g) - via_rgb).abs().max() < 1e-9
    assert (lab.l_to_gray(lab.gray_to_l(g)) - g).abs().max() < 1e-9


def test_max_chroma_table_is_the_gamut_boundary():
    table = lab.max_chroma_table(l_steps=21, hue_steps=37)
    L = torch.linspace(0, 100, 21, dtype=torch.float64)[5:-2, None].expand(-1, 37)
    h = torch.linspace(0, 2 * torch.pi, 37, dtype=torch.float64)[None].expand(L.shape[0], -1)
    c = table[5:-2]
    assert torch.allclose(table[:, 0], table[:, -1])  # the seam repeats

    def inside(scale):
        lin = lab.lab_to_linear(
            torch.stack((L, scale * c * torch.cos(h), scale * c * torch.sin(h)))
        )
        return ((lin >= -1e-9) & (lin <= 1 + 1e-9)).all(dim=0)

    assert inside(0.999).all() and not inside(1.01).any()
