"""The contact sheet's labels (fervideo/study/naming.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from fervideo.study.naming import FACE, _draw_sheet, fit_lines


def test_long_video_names_wrap_whole_and_each_line_fits():
    """Two sessions of one participant differ only at the end of the name: both must be readable."""
    for name in ("P017_interview_session1_camera_left", "P017_interview_session2_camera_left"):
        lines = fit_lines(name, 148, 0.45, 5)
        assert "".join(lines) == name and len(lines) > 1
        assert all(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)[0][0] <= 148 for t in lines)
    assert fit_lines("short.mp4", 148, 0.45, 5) == ["short.mp4"]
    assert fit_lines("Interviewer Anna-Lena Schmidt", 148, 0.45, 5) == ["Interviewer Anna-Lena ", "Schmidt"]  # at a space
    cut = fit_lines("x" * 400, 100, 0.45, 2)
    assert len(cut) == 2 and cut[-1].endswith("...")


def _thumb() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((FACE, FACE, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def test_sheet_rows_grow_with_what_they_must_show(tmp_path):
    """Across videos each face carries its video's name (wrapped, up to three lines), so the rows grow."""
    rows = [dict(folder=f"P017_interview_session{k}_camera_left", person_id=1, n_tracks=1, name="", study_person="S1",
                 thumbnail=_thumb()) for k in (1, 2)]
    persons = pd.DataFrame(rows)
    _draw_sheet(persons, tmp_path / "by_video.png", by_study_person=False)
    _draw_sheet(persons, tmp_path / "by_person.png", by_study_person=True)
    by_video, by_person = (cv2.imread(str(tmp_path / f)) for f in ("by_video.png", "by_person.png"))
    assert by_video.shape[0] == 2 * (FACE + 8 + 14) + 8  # two videos, one caption line under each face
    folder_lines = fit_lines("P017_interview_session1_camera_left", FACE, 0.38, 3)
    assert len(folder_lines) >= 2 and "".join(folder_lines) == "P017_interview_session1_camera_left"
    assert by_person.shape[0] == FACE + 8 + 14 * (1 + len(folder_lines)) + 8  # one study person: its id and its folder
    # a long given name wraps too (it was cut at 14 characters), in red under the black lines
    named = persons.assign(name="Interviewer Anna-Lena Schmidt")
    _draw_sheet(named, tmp_path / "named.png", by_study_person=False)
    img = cv2.imread(str(tmp_path / "named.png"))
    lines = fit_lines("Interviewer Anna-Lena Schmidt", FACE, 0.38, 2)
    assert len(lines) == 2 and img.shape[0] == 2 * (FACE + 8 + 14 * 3) + 8
    red = (img[..., 2] > 120) & (img[..., 0] < 80) & (img[..., 1] < 80)  # BGR: the name's ink
    assert red[:, 160:].any() and not red[:, :160].any()
