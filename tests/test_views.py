"""Test-time views (gerec.emotion.views) and a member's prediction averaged over them."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from gerec.config import models_dir
from gerec.emotion.views import (
    BASES,
    CORNERS,
    FIT_TTA_MODES,
    TTA_MODES,
    covering_mode,
    make_views,
    mirror,
    split_views,
    view,
    zoom_in,
    zoom_out,
)
from gerec.errors import InvalidModelFile


def _ramp(n: int = 3, side: int = 48) -> np.ndarray:
    """A batch whose pixels say where they are: value = column, plus 100 per image."""
    cols = np.tile(np.arange(side, dtype=np.float32), (side, 1))
    return np.stack([cols + 100 * i for i in range(n)])[..., None]


def test_views_are_stacked_view_major_and_averaged_back():
    x = _ramp()
    for mode, names in TTA_MODES.items():
        views = make_views(x, mode)
        assert views.shape == (len(names) * len(x), *x.shape[1:])
        assert views.dtype == x.dtype
        for j, name in enumerate(names):  # block j holds view j of every image, in image order
            block = views[j * len(x) : (j + 1) * len(x)]
            base = BASES[name.split("+")[0]](x)
            np.testing.assert_array_equal(block, mirror(base) if name.endswith("+mirror") else base)
    # splitting gives each view its own block of faces, in order
    stacked = np.arange(6 * 2 * 3, dtype=float).reshape(6 * 2, 3)
    np.testing.assert_array_equal(split_views(stacked, "flip+zoom")[4], stacked[8:10])
    # one mode holds the views of every mode (covering_mode finds it; a fit scores all modes from one run)
    assert set(TTA_MODES[covering_mode(tuple(TTA_MODES))]) == set().union(*TTA_MODES.values())


def test_zooms_keep_the_image_and_change_its_scale():
    x = _ramp()
    zin, zout = zoom_in(x), zoom_out(x)
    assert zin.shape == zout.shape == x.shape
    # along a row the column ramp keeps its direction; zooming in spreads 44 columns over 48 pixels
    # (a slope of 44/48), zooming out squeezes 52 into 48 (52/48)
    slope = lambda img: float(np.polyfit(np.arange(10, 38), img[0, 24, 10:38, 0], 1)[0])  # noqa: E731
    assert slope(x) == pytest.approx(1.0)
    assert slope(zin) == pytest.approx(44 / 48, abs=0.01) and slope(zout) == pytest.approx(52 / 48, abs=0.01)
    for i in range(len(x)):  # each image stays itself: pixel values near its own 100 * i offset
        assert 100 * i - 1 <= zin[i].min() and zin[i].max() <= 100 * i + 48
        assert 100 * i - 1 <= zout[i].min() and zout[i].max() <= 100 * i + 48
    np.testing.assert_array_equal(mirror(x)[0, 0, :, 0], x[0, 0, ::-1, 0])


def test_corner_crops_are_the_centre_crop_moved_to_each_corner():
    """The five crops of ``crops`` (ten-crop) are one size: a 48 px side loses 2 m = 4 pixels; a corner
    crop starts at 0 or 2 m on each axis, the centre crop (``zoom_in``) at m."""
    side = 48
    rows = np.tile(np.arange(side, dtype=np.float32)[:, None], (1, side))
    cols = rows.T
    x = np.stack([rows, cols])[..., None]  # image 0 says its row, image 1 its column
    start = lambda img: (float(img[0, 0, 0, 0]), float(img[1, 0, 0, 0]))  # noqa: E731  (first row, first column)
    assert start(zoom_in(x)) == pytest.approx((2.0, 2.0))
    assert start(BASES["crop_tl"](x)) == pytest.approx((0.0, 0.0))
    assert start(BASES["crop_tr"](x)) == pytest.approx((0.0, 4.0))
    assert start(BASES["crop_bl"](x)) == pytest.approx((4.0, 0.0))
    assert start(BASES["crop_br"](x)) == pytest.approx((4.0, 4.0))
    for name in ("zoom_in", *CORNERS):  # each keeps the scale of the centre crop: 44 rows over 48 pixels
        out = BASES[name](x)
        assert out.shape == x.shape
        assert float(out[0, -1, 0, 0] - out[0, 0, 0, 0]) == pytest.approx(43.0, abs=0.01)
    assert TTA_MODES["crops"] == tuple(v for b in ("zoom_in", *CORNERS) for v in (b, f"{b}+mirror"))


def test_the_covering_mode_is_the_cheapest_run_that_scores_every_mode_asked():
    assert covering_mode(FIT_TTA_MODES) == "flip+zoom"  # the default fit runs 6 views, as before round 11
    assert covering_mode(("none",)) == "none"
    assert covering_mode(("flip", "zoom")) == "flip+zoom"
    assert covering_mode(("crops",)) == "crops"
    assert covering_mode(("flip", "crops")) == "all"
    for modes in [(), ("flip", "rotate")]:
        with pytest.raises(ValueError, match="TTA modes"):
            covering_mode(modes)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="TTA mode"):
        make_views(_ramp(), "rotate")


def test_each_named_view_is_its_slice_of_the_stacked_views():
    x = _ramp()
    every = covering_mode(tuple(TTA_MODES))
    stacked = make_views(x, every).reshape(len(TTA_MODES[every]), *x.shape)  # view-major
    for j, name in enumerate(TTA_MODES[every]):
        np.testing.assert_array_equal(view(x, name), stacked[j])
    with pytest.raises(ValueError, match="unknown view"):
        view(x, "identity+rotate")


def test_member_prediction_is_the_mean_of_its_single_view_predictions(tmp_path):
    """A real member with tta=flip+zoom predicts the mean of itself run on each view alone."""
    from keras_member import make_keras_member

    from gerec.emotion.ensemble import KerasMember
    from gerec.emotion.registry import REGISTRY_FILE, read_registry, resolve_weights

    make_keras_member(tmp_path)  # a Keras-backed member (models/ ships none since issue 19's round 16)
    (spec,) = read_registry(tmp_path / REGISTRY_FILE).members
    path = resolve_weights(spec, tmp_path)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    multi = KerasMember(replace(spec, tta="flip+zoom"), path)
    single = KerasMember(replace(spec, tta="none"), path)
    x = single.prepare(crops)
    expected = np.mean(
        [np.asarray(single.model(make_views(x, "flip+zoom")[j * 5 : (j + 1) * 5], training=False)) for j in range(6)],
        axis=0,
    )
    np.testing.assert_allclose(multi.predict_raw(crops), expected, atol=1e-5)
    calls: list[int] = []
    run = multi._run

    def counting_run(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return run(x)

    multi._run = counting_run  # type: ignore[method-assign]
    per_view = multi.predict_views(crops, batch_size=12)  # 12 inputs a call: 2 faces x 6 views
    assert calls == [12, 12, 6]  # the cap counts views, and views stay with their faces
    assert per_view.shape == (6, 5, len(spec.classes))
    np.testing.assert_allclose(per_view.mean(0), expected, atol=1e-5)
    calls.clear()
    np.testing.assert_allclose(multi.predict_views(crops, batch_size=2), per_view, atol=1e-6)
    assert calls == [6] * 5  # a cap under one face's views still runs one face at a time
    assert not np.allclose(single.predict_raw(crops), expected, atol=1e-3)  # the views do change it


def test_registry_reads_tta_modes_and_the_older_flag(tmp_path):
    from gerec.emotion.registry import REGISTRY_FILE, member_from_json

    item = json.loads((models_dir() / REGISTRY_FILE).read_text())["members"][0]
    item.pop("tta", None)
    assert member_from_json(item | {"tta_flip": True}, "t").tta == "flip"
    assert member_from_json(item | {"tta_flip": False}, "t").tta == "none"
    assert member_from_json(item | {"tta": "zoom"}, "t").tta == "zoom"
    with pytest.raises(InvalidModelFile, match="tta must be one of"):
        member_from_json(item | {"tta": "rotate"}, "t")
