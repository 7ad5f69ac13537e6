"""A film's keyframes: hints given on one frame, carried to every frame of its shot.

A restorer knows the colour of a dress in one frame; the dress is in the whole shot,
with the camera moving. On the keyframe the hints are spread as on a photo
(:func:`colorize_cli.colour.hints.hint_fields`: how far each reaches, stopping at edges,
and its colour there). Those two fields are carried to every other frame of the shot,
moved with the camera (the stabiliser's shift,
:func:`colorize_cli.colour.temporal.followed_shift`, summed over the frames between, to
a fraction of a pixel), and kept only where the picture still matches: where the
network's features are as they were there on the keyframe (:data:`MATCH_LOW`,
:data:`MATCH_HIGH`), so the correction fades where something new comes into view. A
hinted thing that moved on its own is found again: each hint remembers what the network
saw at its point, and where a cell near where the camera took it (:data:`TRAVEL`) is
clearly more like that (:data:`MOVED_BY`), the hint is spread again there, on that
frame. Several keyframes in a shot share the work by nearness in time: the nearest
makes its whole correction, one twice as far half of it. Shots come from the
stabiliser's own cut test (:class:`colorize_cli.colour.temporal.Cuts`), so nothing
crosses a cut.

The plan of a film (its shots, the camera's track and its keyframes) needs the whole
film before its first frame is coloured, since a keyframe also reaches the frames before
it: :class:`Planner` is fed every frame's model input in order in a first pass (and
each keyframe); then :meth:`FilmPlan.carried` gives each frame its part. Pure maths on
tensors: reading frames and running the model for the first pass are
:mod:`colorize_cli.running.keyframes`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch.nn import functional as F

from .hints import Hint, apply_hints, hint_fields
from .temporal import Cuts, followed_shift, translate

# cosine likeness of the encoder's features where a keyframe's correction lies and in
# another frame there: at or below MATCH_LOW the picture shows something else (none of
# the correction), from MATCH_HIGH the same thing (all of it); between, in proportion.
# On the test films of benchmarks/keyframes.py, 0.3 and 0.6 kept a little more of the
# keyframe's gain over pans and cuts, and less flicker, but held its full colour into
# the dark of a fade (shot gain 0.5 dB -> 0.0 and -0.4); the lightness compared instead
# of the features (the stabiliser's motion test) lost a quarter of a pan's gain to grain.
MATCH_LOW, MATCH_HIGH = 0.5, 0.8
# of the frame's side: how far a hinted thing may have moved on its own, beyond the
# camera's shift, and still be found (a Gaussian of this spread around where the camera
# took it)
TRAVEL = 0.15
# how much liker than where the camera took it a cell must be for a hint to be taken as
# moved on its own and spread again there. Measured with hints on a square crossing a
# still shot: the square keeps 27-42% of the keyframe's correction over the shot with
# this, 27-34% without (the carried fields alone), for 4-40% more flicker in the films.
MOVED_BY = 0.1
# and at least this many feature cells from there: nearer, grain decides which cell wins,
# and a hint spread again on some frames and not others makes its colour pump
MOVED_CELLS = 2.0


def unit_features(features: torch.Tensor) -> torch.Tensor:
    """The encoder's features ``(C, h, w)`` as unit vectors per cell, float32 on the CPU."""
    return F.normalize(features.float().cpu(), dim=0)


def _grid_point(x: float, y: float, size: tuple[int, int]) -> torch.Tensor:
    """A pixel of a ``size`` (width, height) frame as grid_sample's (-1..1) coordinates."""
    w, h = size
    return torch.tensor([2 * (x + 0.5) / w - 1, 2 * (y + 0.5) / h - 1])


@dataclass(frozen=True)
class Keyframe:
    """One frame's hints, spread over it, and what the network saw there."""

    frame: int
    hints: tuple[Hint, ...]
    looks: torch.Tensor  # (K, C) unit features at each hint
    at: torch.Tensor  # (K, 2): where each hint is, (y, x) fractions of the frame
    seen: torch.Tensor  # (C, h, w) unit features of the whole frame
    reach: torch.Tensor  # (1, S, S) on the guide grid, from hint_fields
    colour: torch.Tensor  # (2, S, S) the hints' a/b weighted by their reach


def keyframe(
    frame: int,
    hints: list[Hint],
    features: torch.Tensor,
    size: tuple[int, int],
    guide: torch.Tensor,
    ab: torch.Tensor,
) -> Keyframe:
    """The keyframe ``frame`` with ``hints`` (in its own pixels; ``size`` its (width,
    height)), from the model's features of it ``(C, h, w)``, its guide grid and the
    model's a/b of it (which the hints' spreading follows)."""
    unit = unit_features(features)
    points = torch.stack([_grid_point(h.x, h.y, size) for h in hints])
    looks = F.grid_sample(unit[None], points[None, None], align_corners=False)[0, :, 0].T
    w, h = size
    at = torch.tensor([[(p.y + 0.5) / h, (p.x + 0.5) / w] for p in hints])
    reach, colour = hint_fields(guide, ab, features, hints, size)
    return Keyframe(frame, tuple(hints), F.normalize(looks, dim=1), at, unit, reach, colour)


@dataclass
class Carried:
    """What a frame takes from its shot's keyframes: the fields carried to it, and the
    hints of things that moved on their own, to spread again on it."""

    reach: torch.Tensor  # (1, S, S)
    colour: torch.Tensor  # (2, S, S)
    moved: list[Hint]
    features: torch.Tensor  # the model's of this frame: where the moved hints stop

    def apply(self, guide: torch.Tensor, ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The frame's a/b ``(2, h, w)`` corrected, on its guide grid ``(2, S, S)``."""
        side = guide.shape[-1]
        model = F.interpolate(ab[None].float(), size=(side, side), mode="bilinear")[0]
        out = self.colour + (1 - self.reach) * model
        if self.moved:
            out = apply_hints(guide, out, self.features, self.moved, size)
        return out


@dataclass
class FilmPlan:
    """Where a film's shots start, the camera's track through each, and its keyframes."""

    starts: list[int] = field(default_factory=list)  # each frame's shot: its first frame
    track: list[tuple[float, float]] = field(default_factory=list)  # (y, x), of the frame
    keyframes: dict[int, list[Keyframe]] = field(default_factory=dict)  # by shot start

    @property
    def frames(self) -> int:
        return len(self.starts)

    def carried(self, frame: int, features: torch.Tensor, size: tuple[int, int]) -> Carried | None:
        """What frame ``frame`` takes from its shot's keyframes, given the model's
        features of it ``(C, h, w)`` and its (width, height); None in a shot without."""
        keys = self.keyframes.get(self.starts[frame], [])
        if not keys:
            return None
        nearest = min(abs(frame - k.frame) for k in keys)
        unit = unit_features(features)
        reach = torch.zeros_like(keys[0].reach)
        colour = torch.zeros_like(keys[0].colour)
        moved: list[Hint] = []
        for key in keys:
            near = (1 + nearest) / (1 + abs(frame - key.frame))
            if key.frame == frame:
                reach += near * key.reach
                colour += near * key.colour
                continue
            shift = torch.tensor(self.track[frame]) - torch.tensor(self.track[key.frame])
            kept = near * _still_there(key.seen, unit, shift, key.reach.shape[-1])
            reach += kept * _moved_with_camera(key.reach, shift)
            colour += kept * _moved_with_camera(key.colour, shift)
            for hint, look, at in zip(key.hints, key.looks, key.at, strict=True):
                found = _find(unit, look, at + shift, size)
                if found is not None:
                    x, y = found
                    moved.append(replace(hint, x=x, y=y, weight=hint.weight * near))
        # keyframes that reach one place share it: together never more than all of it
        over = reach.clamp_min(1.0)
        return Carried(reach / over, colour / over, moved, features)


def _moved_with_camera(field: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """A keyframe's field ``(C, S, S)`` moved by the camera's ``shift`` ((y, x) fractions
    of the frame); what comes into view is empty."""
    side = field.shape[-1]
    dy, dx = float(shift[0]) * side, float(shift[1]) * side
    inside = translate(torch.ones_like(field[:1]), dy, dx)
    return translate(field, dy, dx) * (inside > 0.999)


def _still_there(
    seen: torch.Tensor, unit: torch.Tensor, shift: torch.Tensor, side: int
) -> torch.Tensor:
    """``(1, side, side)``: 1 where a frame (its unit features ``unit``) still shows what
    the keyframe showed there (``seen``, moved by the camera's ``shift``), falling to 0
    as the features differ (:data:`MATCH_HIGH` down to :data:`MATCH_LOW`)."""
    h, w = unit.shape[-2:]
    then = translate(seen, float(shift[0]) * h, float(shift[1]) * w)
    likeness = (F.normalize(then, dim=0) * unit).sum(0)
    kept = ((likeness - MATCH_LOW) / (MATCH_HIGH - MATCH_LOW)).clamp(0, 1)
    return F.interpolate(kept[None, None], size=(side, side), mode="bilinear")[0]


def _find(
    unit: torch.Tensor, look: torch.Tensor, expected: torch.Tensor, size: tuple[int, int]
) -> tuple[float, float] | None:
    """Where a hinted thing that moved on its own is in a frame (its unit features
    ``(C, h, w)``, its ``size``): the pixel (x, y) of the cell near where the camera took
    it (``expected``, (y, x) fractions of the frame) that looks most like ``look`` (a
    likeness-weighted centre of that cell and its neighbours). None where that cell is
    within :data:`MOVED_CELLS` of where the camera took it, or no clearer a match than
    there (:data:`MOVED_BY`): the carried fields have it there, moved smoothly; or where
    it is no sure match (:data:`MATCH_HIGH`)."""
    _, h, w = unit.shape
    likeness = torch.einsum("c,chw->hw", look, unit)
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    far = (ys[:, None] - expected[0]) ** 2 + (xs[None, :] - expected[1]) ** 2
    score = likeness * torch.exp(-far / (2 * TRAVEL**2))
    by, bx = divmod(int(score.argmax()), w)
    best = float(likeness[by, bx])
    if best < MATCH_HIGH:
        return None  # a thing spread again must surely be there: a doubtful match that
        # came and went from frame to frame would make its colour pump
    cells_away = max(abs(float(ys[by] - expected[0])) * h, abs(float(xs[bx] - expected[1])) * w)
    if cells_away < MOVED_CELLS:
        return None  # where the camera took it, give or take a cell: the fields have it
    if 0 <= float(expected[0]) < 1 and 0 <= float(expected[1]) < 1:
        where = torch.stack([2 * expected[1] - 1, 2 * expected[0] - 1]).float().view(1, 1, 1, 2)
        there = float(F.grid_sample(unit[None], where, align_corners=False)[0, :, 0, 0] @ look)
        if there >= best - MOVED_BY:
            return None
    y0, y1, x0, x1 = max(by - 1, 0), min(by + 2, h), max(bx - 1, 0), min(bx + 2, w)
    around = score[y0:y1, x0:x1].clamp_min(0)
    total = float(around.sum())
    cy = float((around * ys[y0:y1, None]).sum()) / total
    cx = float((around * xs[None, x0:x1]).sum()) / total
    width, height = size
    x = min(max(cx * width - 0.5, 0.0), width - 1.0)
    y = min(max(cy * height - 0.5, 0.0), height - 1.0)
    return x, y


class Planner:
    """Builds a :class:`FilmPlan` from a first pass over the film: every frame's model
    input in order, and each keyframe as it comes."""

    def __init__(self) -> None:
        self.plan = FilmPlan()
        self._cuts = Cuts()

    def add(self, L: torch.Tensor, size: tuple[int, int], key: Keyframe | None = None) -> None:
        """The next frame: its model input L ``(S, S)``, its (width, height), and its
        keyframe if it is one (``key.frame`` is its index)."""
        L, plan = L.float().cpu(), self.plan
        if self._cuts.starts_shot(L, size):
            plan.starts.append(plan.frames)
            plan.track.append((0.0, 0.0))
        else:
            prev = self._cuts.before
            assert prev is not None
            n = L.shape[-1]
            dy, dx, _ = followed_shift(prev, L, n // 4)
            y, x = plan.track[-1]
            plan.starts.append(plan.starts[-1])
            plan.track.append((y + dy / n, x + dx / n))
        if key is not None:
            plan.keyframes.setdefault(plan.starts[-1], []).append(key)
