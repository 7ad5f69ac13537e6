"""Quantized a/b classes: soft encoding, rebalancing and the annealed mean on known inputs."""

import pytest
import torch

from colorize_cli.colour import bins

CENTRES = torch.tensor(
    [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [-10.0, 0.0], [0.0, -10.0], [50.0, 50.0]]
)


def test_occupied_bins_and_prior():
    ab = torch.tensor([[1.0, 2.0], [3.0, -4.0], [48.0, 52.0], [0.0, 0.0]])
    centres, probs = bins.occupied_bins(ab)
    assert sorted(map(tuple, centres.tolist())) == [(0.0, 0.0), (50.0, 50.0)]
    assert probs.tolist() == [0.75, 0.25] or probs.tolist() == [0.25, 0.75]
    assert probs.sum() == pytest.approx(1.0)


def test_soft_encode_puts_most_weight_on_the_nearest_bin():
    ab = torch.tensor([0.0, 0.0]).reshape(1, 2, 1, 1)
    q = bins.soft_encode(ab, CENTRES, k=5, sigma=5.0)[0, :, 0, 0]
    assert q.sum() == pytest.approx(1.0)
    assert q.argmax() == 0
    # the four neighbours at distance 10 share equally; the far bin gets nothing
    assert q[1:5] == pytest.approx(torch.full((4,), q[1].item()))
    assert q[5] == 0
    expected_ratio = torch.exp(torch.tensor(-100.0 / (2 * 25.0)))
    assert (q[1] / q[0]).item() == pytest.approx(expected_ratio.item(), rel=1e-5)


def test_rebalance_weights_favour_rare_colours_with_unit_expectation():
    probs = torch.tensor([0.7, 0.1, 0.1, 0.05, 0.04, 0.01])
    w = bins.rebalance_weights(probs, CENTRES, lam=0.5, sigma=5.0)
    assert w[5] > w[0]  # rare saturated colour weighted up
    kernel = torch.exp(-torch.cdist(CENTRES, CENTRES).square() / 50.0)
    smoothed = kernel @ probs
    smoothed = smoothed / smoothed.sum()
    assert (w * smoothed).sum().item() == pytest.approx(1.0, rel=1e-5)


def test_the_rebalancing_shift_takes_the_weighting_back():
    """A network trained with the weights learns about ``w * p``: the whole shift gives
    back ``p``, and a share of it moves towards ``p`` (towards the common colours)."""
    probs = torch.tensor([0.7, 0.1, 0.1, 0.05, 0.04, 0.01])
    leant = torch.log(bins.rebalance_weights(probs, CENTRES) * probs)
    shift = bins.rebalancing_shift(probs, CENTRES)
    assert torch.allclose(torch.softmax(leant + shift, 0), probs, atol=1e-6)
    leant_p = torch.softmax(leant, 0)
    half = torch.softmax(leant + 0.5 * shift, 0)
    assert leant_p[0] < half[0] < probs[0]  # the common colour wins back part of its share


def test_annealed_mean_limits():
    logits = torch.log(torch.tensor([0.6, 0.1, 0.1, 0.1, 0.1, 0.0001])).reshape(1, 6, 1, 1)
    plain = bins.annealed_mean(logits, CENTRES, 1.0)[0, :, 0, 0]
    expect = (torch.softmax(logits[0, :, 0, 0], 0)[:, None] * CENTRES).sum(0)
    assert torch.allclose(plain, expect, atol=1e-5)
    sharp = torch.log(torch.tensor([0.1, 0.6, 0.1, 0.1, 0.1, 0.0])).reshape(1, 6, 1, 1)
    mode = bins.annealed_mean(sharp, CENTRES, 0.01)[0, :, 0, 0]
    assert torch.allclose(mode, CENTRES[1], atol=1e-3)
    # lowering T moves the decoded colour away from the dull mean, towards the mode
    mid = bins.annealed_mean(sharp, CENTRES, 0.38)[0, :, 0, 0]
    full = bins.annealed_mean(sharp, CENTRES, 1.0)[0, :, 0, 0]
    assert mid[0] > full[0]


def test_families_split_a_distribution_into_its_colours() -> None:
    """A broad hill around orange with a fifth of the mass on blue, and a little grey:
    three families, orange first, each with its share and the mean of its bins."""
    grid = torch.tensor(
        [[a, b] for a in range(-100, 101, 10) for b in range(-100, 101, 10)], dtype=torch.float32
    )

    def hill(ab: tuple[float, float], width: float) -> torch.Tensor:
        return torch.exp(-((grid - torch.tensor(ab)) ** 2).sum(1) / (2 * width**2))

    orange, blue = hill((30.0, 50.0), 8), hill((-20.0, -50.0), 6)
    grey = (grid.norm(dim=1) < 1).float()
    p = 0.7 * orange / orange.sum() + 0.2 * blue / blue.sum() + 0.1 * grey
    found = bins.families(p, grid)
    assert [share for _, share in found[:3]] == pytest.approx([0.7, 0.2, 0.1], abs=0.03)
    assert torch.allclose(found[0][0], torch.tensor([30.0, 50.0]), atol=3)
    assert torch.allclose(found[1][0], torch.tensor([-20.0, -50.0]), atol=3)
    assert found[2][0].norm() < 1
    assert abs(sum(share for _, share in found) - 1) < 1e-6
