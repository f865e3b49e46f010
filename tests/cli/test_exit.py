"""The CLI's fast exit keeps what interpreter finalisation would have done that matters."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import atexit, sys, threading, time
    from pathlib import Path
    from fervideo._cli import exit_now
    out = Path(sys.argv[1])
    atexit.register(lambda: (out / "atexit").write_text("ran"))
    def late():
        time.sleep(0.3)
        (out / "thread").write_text("done")
    threading.Thread(target=late).start()  # non-daemon: must finish before the process ends
    sys.stdout.write("buffered, no newline")
    exit_now({code})
""")


@pytest.mark.parametrize(("code", "rc"), [("0", 0), ("None", 0), ("3", 3), ("'a message'", 1)])
def test_exit_now_waits_for_threads_runs_atexit_and_flushes(tmp_path, code, rc):
    r = subprocess.run([sys.executable, "-c", SCRIPT.format(code=code), str(tmp_path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == rc, r.stderr
    assert (tmp_path / "thread").read_text() == "done"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert r.stdout == "buffered, no newline"
    if rc == 1:
        assert "a message" in r.stderr


def test_console_entry_point_exits_with_the_command_code(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "fervideo._cli", "--help"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "analyze" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "fervideo._cli", "no-such-command"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "no-such-command" in bad.stderr
