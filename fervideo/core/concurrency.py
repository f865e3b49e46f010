"""Overlap: run a producer (the decoder) in a background thread a few items ahead."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def prefetch(it: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Run an iterator in a background thread, ``depth`` items ahead; errors re-raised here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    sentinel = object()

    def worker() -> None:
        try:
            for item in it:
                if stop.is_set():
                    return
                q.put(item)
            q.put(sentinel)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    th = threading.Thread(target=worker, daemon=True, name="fervideo-decode")
    th.start()
    try:
        while True:
            item = q.get()
            if item is sentinel:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(timeout=0.05)
