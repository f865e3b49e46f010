"""The annotated video written in a background thread while the video's tables are finished.

The render pass needs the smoothed, renumbered faces and nothing after them: persons (face
embeddings, clustering) and the tables do not change what is drawn. So it starts as soon as
smoothing is done and runs beside the persons stage and the table writes: two mostly
GIL-free workloads (FFmpeg decoding and x264 encoding there; dlib or onnxruntime, Arrow here)
on two cores. Progress is relayed to the caller's thread, errors are re-raised there, and a
failure on the caller's side stops the render at its next frame.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class RenderCancelled(Exception):
    """Raised inside the render thread to stop it (the video failed or was interrupted)."""


class BackgroundRender:
    """Runs ``render(on_frames)`` in a thread; ``wait(on_frames)`` relays progress and joins."""

    def __init__(self, render: Callable[[Callable[[int], None]], object]) -> None:
        self._render = render
        self._done = queue.Queue()
        self._frames: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fervideo-render", daemon=True)

    def _progress(self, n: int) -> None:
        if self._stop.is_set():
            raise RenderCancelled
        self._frames.put(n)

    def _run(self) -> None:
        try:
            self._done.put((True, self._render(self._progress)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._done.put((False, exc))

    def start(self) -> BackgroundRender:
        self._thread.start()
        return self

    def wait(self, on_frames: Callable[[int], None] | None = None) -> object:
        """Block until the render is done, relaying its progress; re-raises its error."""
        while True:
            try:
                n = self._frames.get(timeout=0.1)
                if on_frames:
                    on_frames(n)
                continue
            except queue.Empty:
                pass
            if not self._thread.is_alive() and self._frames.empty():
                break
        ok, value = self._done.get()
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        """Stop the render at its next frame and wait for the thread (after a failure elsewhere)."""
        self._stop.set()
        self._thread.join()


__all__ = ["BackgroundRender", "RenderCancelled"]
