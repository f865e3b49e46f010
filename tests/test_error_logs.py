"""The suite's rule that a passing test must not log at ERROR (tests/conftest.py), tested on itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import importlib.util

        spec = importlib.util.spec_from_file_location("suite_conftest", {str(CONFTEST)!r})
        suite = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(suite)
        pytest_configure = suite.pytest_configure
        pytest_runtest_makereport = suite.pytest_runtest_makereport
        _fail_passing_tests_that_log_errors = suite._fail_passing_tests_that_log_errors
    """))
    (tmp_path / "test_it.py").write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)


def test_an_error_record_fails_a_passing_test_unless_marked(tmp_path):
    r = _run(tmp_path, """
        import logging
        import threading

        import pytest

        def test_quiet():
            logging.getLogger("fervideo.x").warning("a warning is fine")

        def test_swallowed_error():
            logging.getLogger("fervideo.x").error("something broke and nobody noticed")

        def test_error_in_a_worker_thread():
            t = threading.Thread(target=lambda: logging.getLogger("fervideo.worker").error("decode thread died"))
            t.start()
            t.join()

        @pytest.mark.allow_error_log
        def test_the_error_is_the_point():
            logging.getLogger("fervideo.x").error("expected")

        def test_failing_anyway():
            logging.getLogger("fervideo.x").error("this test fails for its own reason")
            assert False
    """)
    out = r.stdout
    summary = out.split("short test summary info")[-1]
    assert r.returncode == 1, out
    assert "something broke and nobody noticed" in out and "decode thread died" in out
    assert "ERROR test_it.py::test_swallowed_error" in summary
    assert "ERROR test_it.py::test_error_in_a_worker_thread" in summary
    assert "FAILED test_it.py::test_failing_anyway" in summary  # failed for its own reason, reported once
    assert "test_failing_anyway - Failed: 1 record" not in summary
    assert "test_quiet" not in summary and "test_the_error_is_the_point" not in summary
    assert "1 failed, 4 passed, 2 errors" in out
