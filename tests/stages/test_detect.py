import make_samples
import numpy as np
import pytest

from fervideo.core.errors import BackendError
from fervideo.core.types import FrameTime
from fervideo.stages import detect


@pytest.fixture(scope="module")
def centerface():
    return detect.create("centerface", size=320)


def test_centerface_finds_the_face_with_landmarks(centerface):
    frames = np.stack(make_samples.moving_face(0.2, fps=10, size=(320, 240)))
    faces = centerface.detect(frames, [FrameTime(i, i * 0.1) for i in range(len(frames))])
    assert len(faces) == len(frames)  # one face per frame
    assert (faces.scores > 0.7).all()
    b = faces.boxes[0]
    assert 100 < (b[0] + b[2]) / 2 < 220 and 20 < (b[1] + b[3]) / 2 < 160
    lm = faces.landmarks[0]
    assert lm[0, 0] < lm[1, 0]  # left eye left of right eye
    assert lm[2, 1] > lm[0, 1] and lm[3, 1] > lm[2, 1]  # nose below eyes, mouth below nose
    assert faces.frame_index.tolist() == list(range(len(frames)))


@pytest.mark.parametrize("name", detect.available())
def test_every_registered_detector_finds_the_face_or_names_what_is_missing(name, monkeypatch):
    """Each detector finds the face with plausible landmarks; one that cannot run here (SCRFD
    without insightface's model pack) fails in one line that says what is missing."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # never download a model pack in a test
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    missing = None
    if name == "scrfd":
        from fervideo.stages.detect import scrfd

        if scrfd.find_pack_file("det_") is None:
            missing = "insightface pack 'buffalo_l'"
        try:
            import insightface  # noqa: F401
        except ImportError:
            missing = "pip install insightface"
    if missing is not None:
        with pytest.raises(BackendError) as e:
            detect.create(name, size=320)
        msg = str(e.value)
        assert missing in msg and "\n" not in msg
        return
    det = detect.create(name, size=320)
    frames = np.stack(make_samples.moving_face(0.2, fps=10, size=(320, 240)))
    faces = det.detect(frames, [FrameTime(i, i * 0.1) for i in range(len(frames))])
    assert faces.frame_index.tolist() == list(range(len(frames)))  # one face per frame
    assert (faces.scores > 0.5).all()
    lm = faces.landmarks[0]
    assert lm[0, 0] < lm[1, 0] and lm[3, 1] > lm[2, 1] > lm[0, 1]


def test_blank_frames_have_no_faces(centerface):
    frames = np.full((3, 120, 160, 3), 100, np.uint8)
    assert len(centerface.detect(frames, [FrameTime(i, 0.0) for i in range(3)])) == 0


def test_registry_lists_valid_names():
    with pytest.raises(BackendError, match="centerface, scrfd"):
        detect.create("retinaface")


def test_scrfd_offline_names_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # no network in any environment
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with pytest.raises(BackendError, match="--detector centerface"):
        detect.create("scrfd")


def test_nms_suppresses_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = detect.nms(boxes, np.array([0.9, 0.8, 0.7]), 0.3)
    assert keep.tolist() == [0, 2]


def test_torch_runtime_matches_onnxruntime():
    """The torch rebuild of the graph (used on CUDA GPUs) gives onnxruntime's detections."""
    frames = np.stack(make_samples.moving_face(0.2, fps=10, size=(320, 240)))
    times = [FrameTime(i, i * 0.1) for i in range(len(frames))]
    a = detect.create("centerface", runtime="ort").detect(frames, times)
    t = detect.create("centerface", runtime="torch")
    assert t.provider == "torch-cpu"
    b = t.detect(frames, times)
    assert len(a) == len(b)
    assert np.abs(a.boxes - b.boxes).max() < 0.05 and np.abs(a.landmarks - b.landmarks).max() < 0.05


@pytest.mark.parametrize("hw, target", [((720, 1280), (192, 320)), ((1080, 1920), (192, 320)), ((1080, 1920), (384, 640)),
                                        ((336, 596), (192, 320)), ((240, 320), (256, 416))])
def test_shrink_is_an_area_average_where_it_downscales_strongly(hw, target):
    """Halvings by area, then bilinear for the rest: the detector's input stays what OpenCV's
    direct INTER_AREA gives (within rounding), however the frame compares to the network."""
    import cv2
    import skimage.data

    from fervideo.stages.detect.centerface import shrink

    frame = cv2.resize(skimage.data.astronaut(), hw[::-1], interpolation=cv2.INTER_CUBIC)
    ih, iw = target
    got = shrink(frame, iw, ih)
    assert got.shape == (ih, iw, 3) and got.dtype == np.uint8
    want = cv2.resize(frame, (iw, ih), interpolation=cv2.INTER_AREA if iw * 2 < hw[1] else cv2.INTER_LINEAR)
    assert np.abs(got.astype(int) - want).mean() < 1.0
