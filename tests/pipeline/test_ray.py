"""The Ray executor on a real two-node Ray cluster on this machine, with a worker killed mid-video."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import make_samples
import pytest

from fervideo.core.errors import BackendError, ConfigError

START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_processes(marker: str) -> set[int]:
    """PIDs of the processes whose command line names ``marker`` (this cluster's temp dir), and their descendants."""
    procs: dict[int, tuple[int, str]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        procs[int(d)] = (ppid, cmd)
    found = {p for p, (_, cmd) in procs.items() if marker in cmd and p != os.getpid()}
    grew = True
    while grew:
        kids = {p for p, (pp, _) in procs.items() if pp in found} - found
        found |= kids
        grew = bool(kids)
    return found


def _stop_cluster(temp_dir: str) -> None:
    """Stop exactly this test's Ray processes, by PID (``ray stop`` would stop every Ray on the machine)."""
    pids = _ray_processes(temp_dir)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        while time.time() < deadline and any(Path(f"/proc/{p}").exists() and _state(p) != "Z" for p in pids):
            time.sleep(0.2)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


@pytest.fixture(scope="module")
def ray_cluster():
    """A head node and a second node (``ray start --address``) on this machine, one CPU each."""
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    ray_cmd = [str(ray_bin)] if ray_bin.exists() else [shutil.which("ray") or "ray"]
    temp_dir = tempfile.mkdtemp(prefix="fvray", dir="/tmp")  # short: Ray's socket paths must stay < 108 bytes
    # Token authentication off for this private cluster on 127.0.0.1, in the nodes and in this process (the
    # driver): once a local Ray run has written ~/.ray/auth_token, Ray 2.60's nodes otherwise disagree on it.
    auth_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    address = f"127.0.0.1:{port}"

    def node_ports() -> list[str]:
        return ["--dashboard-agent-listen-port", str(_free_port()), "--dashboard-agent-grpc-port", str(_free_port()),
                "--metrics-export-port", str(_free_port()), "--runtime-env-agent-port", str(_free_port())]

    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    head = [*ray_cmd, "start", "--head", "--port", str(port), "--temp-dir", temp_dir, "--include-dashboard", "false",
            *common, *node_ports()]
    second = [*ray_cmd, "start", "--address", address, *common, *node_ports()]
    try:
        for cmd in (head, second):
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False)
            assert r.returncode == 0, r.stdout + r.stderr
        yield address
    finally:
        _stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
        if auth_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = auth_mode


@pytest.fixture(scope="module")
def six_clips(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("six")
    out = []
    for i in range(6):
        p = d / f"clip{i}.mp4"
        make_samples.write_clip(p, make_samples.moving_face(1.6 + 0.1 * i, fps=25.0, size=(240, 180)))
        out.append(p)
    return out


def _kill_first_worker(out: Path, killed: dict, stop: threading.Event) -> None:
    """Kill (SIGKILL) the process writing the first video that starts: its PID is in the partial folder's name."""
    while not stop.is_set():
        for d in out.glob(".clip*.partial-*") if out.exists() else []:
            pid = int(d.name.rsplit("-", 1)[1])
            os.kill(pid, signal.SIGKILL)
            killed.update(pid=pid, name=d.name.split(".partial-")[0][1:],
                          partial_left=d.exists(), final_existed=(out / d.name.split(".partial-")[0][1:]).exists())
            return
        time.sleep(0.01)


def _tables(folder: Path):
    import pyarrow.parquet as pq

    from fervideo.io.tables import read_metadata

    def untimed(d):  # the creation time and measured durations ("seconds") differ from run to run
        if isinstance(d, dict):
            return {k: untimed(v) for k, v in d.items() if k not in ("created_utc", "seconds")}
        return d

    t = pq.read_table(folder / "timeline.parquet")
    return t.replace_schema_metadata(None), untimed(read_metadata(folder / "timeline.parquet"))


@pytest.mark.slow
def test_ray_cluster_redoes_a_killed_workers_video_once_and_matches_a_local_run(ray_cluster, six_clips, tiny_vit, tmp_path):
    import pyarrow.parquet as pq

    import fervideo

    opts = fervideo.AnalyzeOptions(model=str(tiny_vit), render=False, threads=1, device="cpu")
    t0 = time.perf_counter()
    local = fervideo.analyze(six_clips, tmp_path / "local", opts)
    print(f"local run {time.perf_counter() - t0:.1f} s")
    assert [v.status for v in local.videos] == ["done"] * 6

    broken = tmp_path / "in" / "broken.mp4"  # a video that fails on its own: recorded, not retried
    broken.parent.mkdir()
    broken.write_text("not a video\n" * 100)
    out = tmp_path / "ray"
    killed: dict = {}
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_worker, args=(out, killed, stop), daemon=True)
    killer.start()
    try:
        t0 = time.perf_counter()
        res = fervideo.analyze([*six_clips, broken], out, opts, executor="ray", ray_address=ray_cluster)
        print(f"ray run {time.perf_counter() - t0:.1f} s")
    finally:
        stop.set()
        killer.join(5)

    # The kill hit a video in progress: its worker died leaving a partial folder behind, the video unfinished.
    assert killed.get("pid"), "no video was seen in progress"
    assert killed["partial_left"] and not killed["final_existed"], killed
    assert _state(killed["pid"]) in ("gone", "Z"), "the worker was not killed"
    # One result per input; all six finished, each by exactly one task run: a task run again after its
    # video was published would report it skipped (finished) or locked, not done.
    status = {Path(v.path).name: (v.status, v.reason) for v in res.videos}
    assert len(res.videos) == 7 and sorted(status) == sorted([*(p.name for p in six_clips), "broken.mp4"])
    assert [status[p.name][0] for p in six_clips] == ["done"] * 6, status
    assert status["broken.mp4"][0] == "failed" and "broken.mp4" in status["broken.mp4"][1], status
    # Nothing partial, no leftover locks or markers: only the six folders and the study tables.
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(p.stem for p in six_clips)
    # Identical timeline contents (every column and row, bit for bit) and metadata except times.
    for clip in six_clips:
        ray_t, ray_meta = _tables(out / clip.stem)
        loc_t, loc_meta = _tables(tmp_path / "local" / clip.stem)
        assert ray_t.num_rows > 0
        assert ray_t.equals(loc_t), clip.name
        assert json.dumps(ray_meta, sort_keys=True) == json.dumps(loc_meta, sort_keys=True), clip.name
    study = pq.read_table(out / "study.parquet").to_pandas()
    assert sorted(study["video"].unique()) == sorted(p.name for p in six_clips)
    failures = pq.read_table(out / "failures.parquet").to_pandas()
    assert list(failures["video"]) == ["broken.mp4"] and failures["reason"][0] == status["broken.mp4"][1]

    # The same command again (CLI) finishes at once: every video skipped, none redone.
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "fervideo._cli", "analyze", *map(str, six_clips), "--out", str(out), "--model", str(tiny_vit),
           "--no-render", "--threads", "1", "--device", "cpu", "--ray", ray_cluster]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.count("skipped") >= 6 and "done " not in r.stderr, r.stderr


def test_missing_ray_names_the_extra_before_any_work(clips, tmp_path, monkeypatch):
    import fervideo

    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed: `import ray` raises ImportError
    with pytest.raises(BackendError, match=r'pip install "fervideo\[ray\]"'):
        fervideo.analyze([clips["face"]], tmp_path / "out", executor="ray")
    assert not (tmp_path / "out").exists()


def test_unknown_executor_lists_the_valid_ones(clips, tmp_path):
    import fervideo

    with pytest.raises(ConfigError, match="local, ray"):
        fervideo.analyze([clips["face"]], tmp_path / "out", executor="dask")
