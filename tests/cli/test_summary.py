"""The table `fervideo analyze` ends with, in a narrow terminal."""

from __future__ import annotations

import re

from rich.console import Console

from fervideo._cli.progress import _summary
from fervideo.pipeline.progress import BatchResult, VideoResult


def _column(text: str, k: int) -> str:
    """Column ``k`` of the table body, its lines joined without spaces: folded cells read whole again."""
    rows = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    return "".join(re.sub(r"\s+", "", r[k + 1]) for r in rows)


def test_names_and_failure_reasons_are_never_cut_at_80_columns():
    """Two sessions of one participant differ only at the end of their names; an ellipsis would hide
    which is which. A failure's reason, with square brackets from FFmpeg, is shown whole and literally."""
    a, b = "/data/P017_interview_session1_camera_left.mp4", "/data/P017_interview_session2_camera_left.mp4"
    bad = "/data/[red]P018_broken_file_from_the_recorder.mp4"
    reason = f"{bad}: not a readable video ([mov,mp4,m4a,3gp,3g2,mj2] moov atom not found)"
    res = BatchResult("/out", [VideoResult(a, "/out/a", "done", frames=60, tracks=3, seconds=2.0, duration_s=6.0),
                               VideoResult(b, "/out/b", "done", frames=60, tracks=1, seconds=1.0, duration_s=6.0),
                               VideoResult(bad, "/out/c", "failed", reason=reason)])
    console = Console(width=80, record=True, force_terminal=False)
    _summary(res, console)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert _column(text, 0) == ("P017_interview_session1_camera_left.mp4P017_interview_session2_camera_left.mp4"
                                "[red]P018_broken_file_from_the_recorder.mp4"), text
    # the row already names the video: no path before the reason
    assert _column(text, 6) == "notareadablevideo([mov,mp4,m4a,3gp,3g2,mj2]moovatomnotfound)", text
    assert _column(text, 5) == "x3.00x6.00" and "1 of 3 videos failed" in text


def test_without_notes_the_names_get_the_notes_width():
    """A batch where every video went through has no note column, so 22-character names stay on one line at 80 columns."""
    names = ["stage_cuts_640x360.mp4", "street_phone_596x336.mp4", "talking_head_596x336.mp4"]
    res = BatchResult("/out", [VideoResult(f"/v/{n}", f"/out/{n}", "done", frames=92, tracks=10, seconds=3.9, duration_s=10.0)
                               for n in names])
    console = Console(width=80, record=True, force_terminal=False)
    _summary(res, console)
    text = console.export_text()
    assert "note" not in text and all(any(n in line for line in text.splitlines()) for n in names), text


def test_square_brackets_in_names_and_reasons_reach_the_terminal(tmp_path):
    """Rich reads "[red]" or "[pilot]" as markup and drops it: a file called "[red]broken.mp4" was
    announced as "broken.mp4" and FFmpeg's "([mov,mp4,m4a,3gp,3g2,mj2] moov atom not found)" as "( moov
    atom not found)". Every name, path and reason is printed literally."""
    from typer.testing import CliRunner

    from fervideo._cli import app

    bad = tmp_path / "[red]broken.mp4"
    bad.write_bytes(b"not a video at all")
    out = tmp_path / "[pilot]"
    r = CliRunner().invoke(app, ["analyze", str(bad), "--out", str(out), "--no-render"], env={"COLUMNS": "200"})
    assert r.exit_code == 1
    assert "failed [red]broken.mp4:" in r.output, r.output
    assert "not a readable video ([mov,mp4" in r.output, r.output
    assert f"fervideo: {out}" in r.output and f"(listed in {out / 'failures.parquet'})" in r.output, r.output
    r = CliRunner().invoke(app, ["persons", str(tmp_path / "[none]")], env={"COLUMNS": "200"})
    assert r.exit_code == 1 and "[none]" in r.output, r.output
