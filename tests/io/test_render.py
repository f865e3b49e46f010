"""The annotated video reads for a psychologist: outlined boxes, labelled bars large enough to see."""

from __future__ import annotations

import numpy as np
import pytest

from fervideo.core.palette import color, contrast_ratio
from fervideo.io.render import bar_panel, draw

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
BOX = np.array([200.0, 60.0, 330.0, 230.0])


def _probs(k: int) -> np.ndarray:
    p = np.full(len(LABELS), 0.02, np.float32)
    p[k] = 1 - 0.02 * (len(LABELS) - 1)
    return p


@pytest.mark.parametrize("background", [(255, 255, 255), (200, 200, 200), (230, 200, 160), (0, 0, 0)])
@pytest.mark.parametrize("label", LABELS)
def test_box_stands_out_from_any_background(label, background):
    """Across the box's left edge there is a pixel with contrast >= 3 against the background
    (the colour on dark backgrounds, the dark outline on light ones): the old grey neutral box
    had 1.6 on light grey hair."""
    frame = np.empty((336, 596, 3), np.uint8)
    frame[:] = background
    draw(frame, BOX, "#1", label, _probs(LABELS.index(label)), LABELS)
    x1, y_mid = int(BOX[0]), int((BOX[1] + BOX[3]) / 2)
    band = frame[y_mid, x1 - 6:x1 + 7]
    best = max(contrast_ratio(tuple(int(v) for v in px), background) for px in band)
    assert best >= 3.0, (label, background, best)


def test_bars_are_labelled_and_tall_enough_at_336_pixels():
    h, w = 336, 596
    frame = np.full((h, w, 3), 128, np.uint8)
    k = LABELS.index("surprise")
    draw(frame, BOX, "#1", "surprise", _probs(k), LABELS)
    bp = bar_panel((h, w), BOX, LABELS)
    assert len(bp.bars) == len(LABELS) == len(bp.labels)
    for (lx1, ly1, lx2, ly2), (bx1, by1, bx2, by2), lab in zip(bp.labels, bp.bars, LABELS):
        assert by2 - by1 + 1 >= 8 and bx2 - bx1 >= 40, "bars were 3 px high at this size"
        text = frame[ly1:ly2 + 1, lx1:lx2 + 1].astype(int)
        assert (text.min(axis=2) > 180).sum() >= 8, f"no label drawn for {lab}"
        assert bx1 > lx2  # label left of its bar, not on it
    # the winning class's bar is filled with its colour along most of its length
    bx1, by1, bx2, by2 = bp.bars[k]
    row = frame[(by1 + by2) // 2, bx1:bx2 + 1]
    assert (row == color("surprise")).all(axis=1).mean() > 0.8


def test_panel_stays_inside_the_frame_at_the_edges():
    for box in ([260.0, 170.0, 318.0, 238.0], [0.0, 0.0, 60.0, 80.0], [250.0, 100.0, 330.0, 200.0], [400.0, 0.0, 500.0, 90.0]):
        frame = np.zeros((240, 320, 3), np.uint8)
        draw(frame, np.array(box), "P2 #3", "happy", _probs(3), LABELS)  # no exception at the borders
        x1, y1, x2, y2 = bar_panel((240, 320), np.array(box), LABELS).panel
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240


def test_face_tag_names_person_and_track():
    from fervideo.io.render import face_tag

    assert face_tag(7) == "#7"
    assert face_tag(7, 2) == "P2 #7"


def test_annotated_video_tags_each_box_with_its_person(clips, tmp_path, monkeypatch):
    """render_video asks for the person map once, before drawing, and heads each box 'P<person> #<track>'."""
    import fervideo.io.render as render
    from fervideo.core.types import Faces

    n = 6
    probs = np.tile(_probs(3), (2 * n, 1))
    t = np.linspace(0.0, 1.0, n)
    faces = Faces(
        boxes=np.tile([[40.0, 40.0, 120.0, 140.0]], (2 * n, 1)) + np.repeat([[0.0], [150.0]], n, axis=0) * [1, 0, 1, 0],
        scores=np.full(2 * n, 0.9), landmarks=np.zeros((2 * n, 5, 2)),
        frame_index=np.tile(np.arange(n), 2), time_s=np.tile(t, 2), track_ids=np.repeat([1, 2], n),
        probs=probs, smoothed=probs, label_ids=np.full(2 * n, 3),
    )
    tags, calls = [], []
    layout = render.face_drawing
    monkeypatch.setattr(render, "face_drawing", lambda hw, box, tag, *a, **kw: (tags.append(tag), layout(hw, box, tag, *a, **kw))[1])

    def person_of():
        calls.append(len(tags))
        return {1: 5, 2: 3}

    written = render.render_video(clips["face"], tmp_path / "ann.mp4", faces, LABELS, person_of=person_of)
    assert written > 0 and calls == [0]  # once, before the first box
    assert set(tags) == {"P5 #1", "P3 #2"}
    tags.clear()
    render.render_video(clips["face"], tmp_path / "ann2.mp4", faces, LABELS)
    assert set(tags) == {"#1", "#2"}


def _i420(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def test_drawing_on_i420_changes_only_the_band_of_the_faces_and_matches_drawing_on_rgb():
    """paint_i420 gives, in the rows it converts, exactly what converting the whole frame to RGB,
    drawing and converting back gives; every other byte stays as decoded."""
    import cv2

    from fervideo.io.render import face_drawing, paint, paint_i420

    rng = np.random.default_rng(0)
    h, w = 360, 640
    yuv = _i420(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    drawings = [face_drawing((h, w), np.array(b), "P1 #2", "happy", _probs(3), LABELS)
                for b in ([100.0, 120.0, 180.0, 220.0], [400.0, 150.0, 450.0, 210.0])]
    got = yuv.copy()
    paint_i420(got, drawings)
    rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    for d in drawings:
        paint(rgb, d)
    whole = _i420(rgb)
    top = min(d.rows()[0] for d in drawings) // 2 * 2
    bottom = min(h, max(d.rows()[1] for d in drawings) + 1) // 2 * 2
    def planes(a):  # Y (h, w), U and V (h/2, w/2)
        f, q = a.reshape(-1), h * w // 4
        return f[: h * w].reshape(h, w), f[h * w : h * w + q].reshape(h // 2, w // 2), f[h * w + q :].reshape(h // 2, w // 2)

    for k, (g, full, orig) in enumerate(zip(planes(got), planes(whole), planes(yuv))):
        t, b = (top, bottom) if k == 0 else (top // 2, bottom // 2)
        np.testing.assert_array_equal(g[t:b], full[t:b])
        np.testing.assert_array_equal(g[:t], orig[:t])
        np.testing.assert_array_equal(g[b:], orig[b:])
    assert (planes(got)[0] != planes(yuv)[0]).any()  # something was drawn
    drawn = cv2.cvtColor(got, cv2.COLOR_YUV2RGB_I420)
    assert not (drawn[:top] != cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)[:top]).any()


def test_annotated_video_is_the_same_from_i420_and_from_rgb_frames(clips, tmp_path, monkeypatch):
    """The YUV path (the default) and the RGB path (rotated videos, odd sides) write the same picture."""
    import av

    import fervideo.io.render as render
    from fervideo.core.types import Faces
    from fervideo.stages.decode import VideoSource

    n = 6
    probs = np.tile(_probs(3), (n, 1))
    faces = Faces(
        boxes=np.tile([[40.0, 40.0, 120.0, 140.0]], (n, 1)), scores=np.full(n, 0.9), landmarks=np.zeros((n, 5, 2)),
        frame_index=np.arange(n), time_s=np.linspace(0.0, 1.0, n), track_ids=np.ones(n, int),
        probs=probs, smoothed=probs, label_ids=np.full(n, 3),
    )
    assert VideoSource(clips["face"]).supports_i420
    render.render_video(clips["face"], tmp_path / "yuv.mp4", faces, LABELS)
    monkeypatch.setattr(VideoSource, "supports_i420", property(lambda self: False))
    render.render_video(clips["face"], tmp_path / "rgb.mp4", faces, LABELS)

    def frames(p):
        with av.open(str(p)) as c:
            return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.int16)

    a, b = frames(tmp_path / "yuv.mp4"), frames(tmp_path / "rgb.mp4")
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 3.0  # decoder rounding (FFmpeg against OpenCV), then x264; nothing drawn on one: 8.0
    box = a[:, 40:140, 40:120]
    assert np.abs(box - b[:, 40:140, 40:120]).mean() < 5.0  # with nothing drawn on one: 9.1


@pytest.mark.parametrize("i420", [True, False])
def test_annotated_video_scaled_down_draws_each_box_where_its_face_is(clips, tmp_path, monkeypatch, i420):
    """``max_height`` (``--render-height``): a 320x240 input written at 160x120 (same aspect),
    the box laid out at the output's size, in both the YUV and the RGB path."""
    import av

    import fervideo.io.render as render
    from fervideo.core.types import Faces
    from fervideo.stages.decode import VideoSource

    if not i420:
        monkeypatch.setattr(VideoSource, "supports_i420", property(lambda self: False))
    n = 6
    probs = np.tile(_probs(3), (n, 1))
    box = [120.0, 60.0, 280.0, 220.0]
    faces = Faces(
        boxes=np.tile([box], (n, 1)), scores=np.full(n, 0.9), landmarks=np.zeros((n, 5, 2)),
        frame_index=np.arange(n), time_s=np.linspace(0.0, 1.0, n), track_ids=np.ones(n, int),
        probs=probs, smoothed=probs, label_ids=np.full(n, 3),
    )
    none = faces[np.zeros(n, bool)]
    render.render_video(clips["face"], tmp_path / "drawn.mp4", faces, LABELS, max_height=120)
    render.render_video(clips["face"], tmp_path / "plain.mp4", none, LABELS, max_height=120)
    render.render_video(clips["face"], tmp_path / "full.mp4", none, LABELS, max_height=240)  # not taller: kept

    def first(p):
        with av.open(str(p)) as c:
            return next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.int16)

    drawn, plain = first(tmp_path / "drawn.mp4"), first(tmp_path / "plain.mp4")
    assert drawn.shape == plain.shape == (120, 160, 3) and first(tmp_path / "full.mp4").shape == (240, 320, 3)
    changed = np.abs(drawn - plain).max(axis=2) > 40
    # the box's left edge at x = 60 (120 / 2) along its rows, its top at y = 30 (60 / 2); drawn at
    # the input's coordinates they would be at x = 120 and y = 60 instead
    assert changed[40:100, 57:64].any(axis=1).mean() > 0.9
    assert changed[27:34, 65:90].any(axis=0).mean() > 0.9
    assert not changed[40:100, 10:50].any()  # left of the box: the picture as it was


def _rect_overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _drawn(d):
    """The header and, where drawn, the bar panel of a drawing."""
    p = d.bars.panel
    return [d.header] + ([p] if p[2] > p[0] and p[3] > p[1] else [])


@pytest.mark.parametrize("boxes", [
    [[200.0, 120.0, 260.0, 190.0], [300.0, 120.0, 360.0, 190.0]],  # side by side, a panel's width apart
    [[40.0, 60.0, 110.0, 140.0], [150.0, 90.0, 220.0, 170.0], [260.0, 50.0, 330.0, 130.0],
     [380.0, 80.0, 440.0, 150.0], [500.0, 60.0, 570.0, 140.0]],  # a row of five: an audience
])
def test_in_a_crowded_frame_no_header_or_bars_cover_another_face(boxes):
    from fervideo.io.render import FaceToDraw, arrange

    hw = (360, 640)
    faces = [FaceToDraw(k + 1, np.array(b), f"P{k + 1} #{k + 1}", "happy", _probs(3)) for k, b in enumerate(boxes)]
    out = arrange(hw, faces, LABELS)
    for i, d in enumerate(out):
        assert d.box == tuple(round(v) for v in boxes[i])
        for r in _drawn(d):
            assert 0 <= r[0] < r[2] <= hw[1] and 0 <= r[1] < r[3] <= hw[0], r
            assert all(_rect_overlap(r, b) == 0 for j, b in enumerate(boxes) if j != i), (i, r)
            for j, other in enumerate(out):
                if j != i:
                    assert all(_rect_overlap(r, o) == 0 for o in _drawn(other)), (i, j)
    if len(boxes) == 2:  # room for both: both keep their bars
        assert all(len(_drawn(d)) == 2 for d in out)


def test_a_lone_face_is_drawn_as_before_and_placements_hold_while_faces_move():
    from fervideo.io.render import FaceToDraw, arrange, face_drawing

    hw = (360, 640)
    lone = arrange(hw, [FaceToDraw(1, BOX, "#1", "sad", _probs(4))], LABELS)[0]
    alone = face_drawing(hw, BOX, "#1", "sad", _probs(4), LABELS)
    assert (lone.box, lone.header, lone.bars.panel, lone.text) == (alone.box, alone.header, alone.bars.panel, alone.text)
    assert alone.header[3] < BOX[1] and alone.bars.panel[0] > BOX[2]  # header above, bars right
    memory: dict = {}
    first = arrange(hw, [FaceToDraw(1, np.array([200.0, 120.0, 260.0, 190.0]), "#1", "happy", _probs(3)),
                         FaceToDraw(2, np.array([300.0, 120.0, 360.0, 190.0]), "#2", "happy", _probs(3))], LABELS, memory)
    before = dict(memory)
    moved = arrange(hw, [FaceToDraw(1, np.array([203.0, 121.0, 263.0, 191.0]), "#1", "happy", _probs(3)),
                         FaceToDraw(2, np.array([302.0, 119.0, 362.0, 189.0]), "#2", "happy", _probs(3))], LABELS, memory)
    assert memory == before and len(first) == len(moved) == 2


def test_a_header_at_the_right_edge_stays_in_the_frame():
    from fervideo.io.render import face_drawing

    d = face_drawing((360, 640), np.array([590.0, 50.0, 636.0, 120.0]), "P10 #10", "happy", _probs(3), LABELS)
    assert 0 <= d.header[0] and d.header[2] <= 640


def test_a_face_that_is_not_clear_gets_a_question_mark_in_its_header():
    from fervideo.io.render import FaceToDraw, arrange, face_drawing

    hw = (360, 640)
    assert face_drawing(hw, BOX, "P1 #1", "happy", _probs(3), LABELS).text.endswith("%")
    assert face_drawing(hw, BOX, "P1 #1", "happy", _probs(3), LABELS, unclear=True).text.endswith("% ?")
    lone = arrange(hw, [FaceToDraw(1, BOX, "P1 #1", "happy", _probs(3), True)], LABELS)
    two = arrange(hw, [FaceToDraw(1, np.array([200.0, 120.0, 260.0, 190.0]), "#1", "happy", _probs(3), True),
                       FaceToDraw(2, np.array([400.0, 120.0, 460.0, 190.0]), "#2", "sad", _probs(4))], LABELS)
    assert lone[0].text.endswith(" ?") and two[0].text.endswith(" ?") and not two[1].text.endswith("?")
