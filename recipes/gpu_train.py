"""Full-scale training on a lent GPU machine, within the calls the project's device tool allows.

The device tool (see the project's notes) runs one command of at most 10 minutes at a time on
a bare machine with CUDA torch, transformers, pyarrow and friends but no network, keeps it
only while calls follow each other (it goes back after about 30 s idle, and after 30 minutes
held in any case), sends the working tree (64 MiB at most, ignored folders only when named in
``carry``) and brings back at most 8 files of 16 MiB from ``$OUT``. So a run is:

here, once (the data travels as an ignored folder; never committed):

    python recipes/gpu_train.py pack                       # -> .gpu-data/ (about 50 MB)

there, one call after the other (``carry: [".gpu-data"]``):

    python3 recipes/gpu_train.py start NAME [fervideo train options]   # starts, then follows up to 9 min
    python3 recipes/gpu_train.py follow NAME                           # follows up to 9 more minutes
    python3 recipes/gpu_train.py stop NAME                             # ends it early (then follow packs it)

``start`` launches ``fervideo train`` (FER-2013 labels and FER+ votes, ``--device cuda``) in its
own process session so it outlives the call, and every call ends by packing the best exports
so far (the 7-class model and the FER+ vote head, weights in fp16) into ``$OUT`` as
``NAME.tgz.part-aa``, ``-ab``, ... of at most 15 MB each, with the log: whatever happens to the
machine later, the last call's files hold the best model so far. The checkpoints stay there
(too large to bring back); a run must end within one lease.

here, with the files the last call brought back:

    python recipes/gpu_train.py unpack NAME FILES_AT runs/NAME   # -> runs/NAME/model, runs/NAME/model/ferplus

then score and release them as any run (``fervideo evaluate``, ``python -m fervideo.train.release``),
naming the GPU in the card. ``--device`` and ``--root`` let the whole cycle run on a CPU with
a tiny model, which is how this script is tested.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".gpu-data"
SHARED = ROOT.parent / "shared" / "data"
PART_BYTES = 15 * 1000 * 1000
FILES = {  # what travels: FER-2013 as is, FER+ reduced to its votes (the images are the same)
    "fer2013-train.parquet": "fer2013/train.parquet",
    "fer2013-val.parquet": "fer2013/val.parquet",
    "ferplus-train-votes.parquet": "ferplus/train.parquet",
    "ferplus-val-votes.parquet": "ferplus/val.parquet",
}


def pack(shared: Path, dest: Path) -> None:
    import pyarrow.parquet as pq

    dest.mkdir(parents=True, exist_ok=True)
    for name, src in FILES.items():
        if name.startswith("ferplus"):
            schema = pq.read_schema(shared / src).names
            cols = [c for c in schema if c.startswith("votes_")] + ["source_name"]
            pq.write_table(pq.read_table(shared / src, columns=cols), dest / name)
        else:
            shutil.copyfile(shared / src, dest / name)
    size = sum(f.stat().st_size for f in dest.iterdir())
    print(f"{dest}: {size / 1e6:.1f} MB; name it in the device call's carry")


def run_dir(root: Path, name: str) -> Path:
    return root / name


def start(name: str, train_args: list[str], root: Path, out: Path, device: str, minutes: float, data: Path) -> int:
    missing = [f for f in FILES if not (data / f).exists()]
    if missing:
        raise SystemExit(f"{data}: {', '.join(missing)} missing; run `pack` here and name the folder in the call's carry")
    d = run_dir(root, name)
    if (d / "pid").exists():
        raise SystemExit(f"{d} exists: a run of this name was started on this machine; use follow")
    d.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "fervideo._cli", "train", str(data / "fer2013-train.parquet"),
           "--val", str(data / "fer2013-val.parquet"), "--votes", str(data / "ferplus-train-votes.parquet"),
           "--val-votes", str(data / "ferplus-val-votes.parquet"), "--device", device, "--out", str(d / "model"),
           *train_args]
    (d / "command.json").write_text(json.dumps(cmd))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "PYTHONUNBUFFERED": "1",
           "COLUMNS": "120"}
    # a shell in its own process session runs the training and leaves its exit status in ``rc``:
    # the later calls that follow the run are not its parent and could not learn it otherwise
    wrapper = ["sh", "-c", f'"$@"; echo $? > "{d / "rc"}.tmp" && mv "{d / "rc"}.tmp" "{d / "rc"}"', "sh", *cmd]
    with open(d / "train.log", "wb") as log:
        proc = subprocess.Popen(wrapper, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True)
    (d / "pid").write_text(str(proc.pid))
    print("started:", " ".join(cmd), flush=True)
    return follow(name, root, out, minutes)


def _alive(pid: int, d: Path) -> bool:
    """The run is going on: no exit status written yet, and its process exists and is no zombie."""
    if (d / "rc").exists():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it where this process started it
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by a parent that is gone) is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _rc(d: Path) -> int | None:
    try:
        return int((d / "rc").read_text().strip())
    except (OSError, ValueError):
        return None


def stop(name: str, root: Path) -> int:
    """End a run early (its process group): the best exports so far stay; ``follow`` packs them."""
    d = run_dir(root, name)
    if not (d / "pid").exists():
        raise SystemExit(f"no run {name!r} on this machine")
    pid = int((d / "pid").read_text())
    (d / "stopped").write_text("stopped by `stop`\n")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # the wrapper shell leads the group: it and the training
    for _ in range(100):
        if not _alive(pid, d):
            break
        time.sleep(0.1)
    print(f"stopped {name}", flush=True)
    return 0


def follow(name: str, root: Path, out: Path, minutes: float) -> int:
    d = run_dir(root, name)
    if not (d / "pid").exists():
        raise SystemExit(f"no run {name!r} on this machine (a fresh machine forgets runs); start it again")
    pid = int((d / "pid").read_text())
    log = d / "train.log"
    seen = 0
    deadline = time.time() + minutes * 60
    while True:
        alive = _alive(pid, d)
        text = log.read_text(errors="replace").replace("\r", "\n")
        lines = text.split("\n")[:-1]  # complete lines only: the last may still be written
        for line in lines[seen:]:
            if line.lstrip().startswith(("epoch ", "best epoch", "vote head", "train:", "Error", "error", "Traceback")):
                print(line.strip(), flush=True)
        seen = len(lines)
        if not alive or time.time() > deadline:
            break
        time.sleep(min(20.0, max(0.5, deadline - time.time())))
    rc, stopped = _rc(d), (d / "stopped").exists()
    if alive:
        print(f"still training (pid {pid}); call follow again at once", flush=True)
    else:
        print("training stopped early by `stop`" if stopped else f"training finished (exit status {rc})", flush=True)
    collect(name, root, out)
    if not alive and rc != 0 and not stopped:
        print("".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:]), flush=True)
        return 1
    return 0


def _half(src: Path, dst: Path, history: list | None) -> None:
    """A model directory with fp16 weights (half the bytes to bring back; fervideo computes in
    fp32/bf16) and the run's whole history in ``training.json``. The card stays behind: its
    sha256 is of the fp32 weights and its speed of that machine's CPU; the release here writes it."""
    from safetensors.torch import load_file, save_file

    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.suffix in (".json", ".py") and f.name != "card.json":
            shutil.copy2(f, dst / f.name)
    if history is not None:
        summary = json.loads((dst / "training.json").read_text())
        summary["history"] = history
        (dst / "training.json").write_text(json.dumps(summary, indent=2))
    state = load_file(src / "model.safetensors")
    save_file({k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}, dst / "model.safetensors",
              metadata={"format": "pt"})


def _best_epoch(model: Path) -> int | None:
    try:
        return int(json.loads((model / "training.json").read_text())["best_epoch"])
    except (OSError, ValueError, KeyError):
        return None


def collect(name: str, root: Path, out: Path) -> None:
    d = run_dir(root, name)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(d / "train.log", out / f"{name}.log")
    model = d / "model"
    if not (model / "model.safetensors").exists():
        print("no exported model yet (the first epoch has not ended)", flush=True)
        return
    stage = d / "collect"
    for attempt in range(5):  # the run may export a better epoch while this copies: then again
        before = [_best_epoch(m) for m in (model, model / "ferplus")]
        shutil.rmtree(stage, ignore_errors=True)
        history = None
        ckpt = model / "checkpoints" / "last.pt"
        try:
            if ckpt.exists():  # every epoch so far, for the card (training.json stops at the best one)
                import torch

                history = torch.load(ckpt, map_location="cpu", weights_only=False)["history"]
            _half(model, stage / "model", history)
            if (model / "ferplus" / "model.safetensors").exists():
                _half(model / "ferplus", stage / "model" / "ferplus", history)
        except Exception as exc:  # noqa: BLE001 - a file replaced under us; retried below
            print(f"copy {attempt + 1} failed ({exc}); again", flush=True)
            time.sleep(2.0)
            continue
        if [_best_epoch(m) for m in (model, model / "ferplus")] == before:
            break
        time.sleep(2.0)
    archive = d / f"{name}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(stage / "model", arcname="model")
    for old in out.glob(f"{name}.tgz.part-*"):
        old.unlink()
    data = archive.read_bytes()
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
    if len(parts) > 7:
        raise SystemExit(f"{len(data) / 1e6:.0f} MB of model does not fit the 7 files that can come back")
    for i, p in enumerate(parts):
        (out / f"{name}.tgz.part-a{chr(ord('a') + i)}").write_bytes(p)
    print(f"packed {len(data) / 1e6:.1f} MB in {len(parts)} part(s) into {out}", flush=True)


def unpack(name: str, files_at: Path, dest: Path) -> None:
    parts = sorted(Path(files_at).rglob(f"{name}.tgz.part-*"))
    if not parts:
        raise SystemExit(f"no {name}.tgz.part-* under {files_at}")
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{name}.tgz"
    archive.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    log = next(Path(files_at).rglob(f"{name}.log"), None)
    if log is not None:
        shutil.copyfile(log, dest / "train.log")
    print(f"{dest / 'model'} (and model/ferplus where trained); training.json has every epoch so far")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="here: FER-2013 + FER+ votes into .gpu-data/")
    p.add_argument("--shared", type=Path, default=SHARED)
    p.add_argument("--dest", type=Path, default=DATA)
    p = sub.add_parser("stop", help="there: end a run early; follow then packs its best exports")
    p.add_argument("name")
    p.add_argument("--root", type=Path, default=Path("/tmp/fervideo-gpu"))
    for c in ("start", "follow"):
        p = sub.add_parser(c)
        p.add_argument("name")
        p.add_argument("--root", type=Path, default=Path("/tmp/fervideo-gpu"), help="where runs live on that machine")
        p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out-gpu")), help="default: $OUT")
        p.add_argument("--minutes", type=float, default=9.0, help="follow this long (a call may last 10 minutes)")
        if c == "start":
            p.add_argument("--device", default="cuda")
            p.add_argument("--data", type=Path, default=DATA)
    p = sub.add_parser("unpack", help="here: the parts a call brought back -> a run directory")
    p.add_argument("name")
    p.add_argument("files_at", type=Path)
    p.add_argument("dest", type=Path)
    a, rest = ap.parse_known_args()
    if rest and a.cmd != "start":
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    if a.cmd == "pack":
        pack(a.shared, a.dest)
        return 0
    if a.cmd == "start":
        return start(a.name, rest, a.root, a.out, a.device, a.minutes, a.data)
    if a.cmd == "follow":
        return follow(a.name, a.root, a.out, a.minutes)
    if a.cmd == "stop":
        return stop(a.name, a.root)
    unpack(a.name, a.files_at, a.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
