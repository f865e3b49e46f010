"""The background render: progress relayed to the caller's thread, errors re-raised, cancellable."""

from __future__ import annotations

import threading
import time

import pytest

from fervideo.pipeline.render_overlap import BackgroundRender, RenderCancelled


def test_progress_arrives_in_the_callers_thread_and_the_result_comes_back():
    seen: list[tuple[int, str]] = []

    def render(on_frames):
        for _ in range(5):
            on_frames(2)
        return 10

    r = BackgroundRender(render).start()
    assert r.wait(lambda n: seen.append((n, threading.current_thread().name))) == 10
    assert [n for n, _ in seen] == [2] * 5
    assert {name for _, name in seen} == {threading.current_thread().name}


def test_an_error_in_the_render_is_raised_by_wait():
    def render(on_frames):
        on_frames(1)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        BackgroundRender(render).start().wait()


def test_cancel_stops_the_render_at_its_next_frame():
    frames = []

    def render(on_frames):
        for i in range(10_000):
            frames.append(i)
            on_frames(1)
            time.sleep(0.001)
        return "finished"

    r = BackgroundRender(render).start()
    time.sleep(0.05)
    r.cancel()
    assert len(frames) < 10_000
    with pytest.raises(RenderCancelled):
        r.wait()


def test_a_failing_video_leaves_no_render_thread_behind(clips, tmp_path, monkeypatch):
    """The persons stage fails while the annotated video is being written: the error is the
    video's reason, and the render thread is gone when analyze returns."""
    import fervideo
    import fervideo.pipeline.video_job as vj

    def boom(*a, **k):
        raise RuntimeError("persons exploded")

    monkeypatch.setattr(vj, "find_persons", boom)
    r = fervideo.analyze([clips["face"]], tmp_path / "out", fps=5, persons=False)
    assert r.videos[0].status == "failed" and "persons exploded" in r.videos[0].reason
    assert not [t for t in threading.enumerate() if t.name == "fervideo-render"]
