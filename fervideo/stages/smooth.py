"""Smooth: per-track temporal smoothing of class probabilities, on real time, by name.

Expressions last from a fraction of a second to seconds, while per-frame classifiers flicker;
smoothing over *seconds* (not frame counts) gives the same result at any --fps or frame
rate. A track is cut into segments where the face was lost for more than ``max_gap`` seconds;
segments are smoothed independently, so a gap never carries an old expression forward.
Raw probabilities are kept next to the smoothed ones.
"""

from __future__ import annotations

import numpy as np

from fervideo.core.errors import BackendError
from fervideo.core.types import Faces


def _segments(t: np.ndarray, max_gap: float) -> list[slice]:
    cuts = np.nonzero(np.diff(t) > max_gap)[0] + 1
    bounds = [0, *cuts.tolist(), len(t)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class _PerTrack:
    """Base: ``update(faces) -> faces`` with ``smoothed`` and ``label_ids``; ``reset()``."""

    name = "base"

    def __init__(self, max_gap: float = 1.0) -> None:
        self.max_gap = max_gap

    @classmethod
    def from_settings(cls, *, seconds: float, max_gap: float, switch_rate: float) -> _PerTrack:
        """Build from the run's common settings; each smoother takes the ones it uses."""
        return cls(max_gap=max_gap)

    def reset(self) -> None:  # stateless between videos; kept for the common stage shape
        pass

    def update(self, faces: Faces) -> Faces:
        if faces.probs is None:
            raise ValueError("smoothing needs classified faces (probs)")
        sm = faces.probs.copy()
        labels = np.argmax(sm, 1) if len(sm) else np.zeros(0, np.int64)
        for tid in np.unique(faces.track_ids):
            rows = np.nonzero(faces.track_ids == tid)[0]
            rows = rows[np.argsort(faces.time_s[rows], kind="stable")]
            t = faces.time_s[rows]
            for seg in _segments(t, self.max_gap):
                r = rows[seg]
                s, lab = self._smooth(faces.probs[r], faces.time_s[r])
                sm[r] = s
                labels[r] = lab
        return faces.with_(smoothed=sm, label_ids=labels)

    def _smooth(self, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class NoSmoothing(_PerTrack):
    name = "none"

    def _smooth(self, p, t):
        return p, p.argmax(1)


class EMASmoothing(_PerTrack):
    """Causal exponential moving average with time constant ``tau`` seconds (dt-aware)."""

    name = "ema"

    def __init__(self, tau: float = 0.5, max_gap: float = 1.0) -> None:
        super().__init__(max_gap)
        self.tau = tau

    @classmethod
    def from_settings(cls, *, seconds: float, max_gap: float, switch_rate: float) -> EMASmoothing:
        return cls(tau=seconds, max_gap=max_gap)

    def _smooth(self, p, t):
        out = np.empty_like(p)
        out[0] = p[0]
        a = 1.0 - np.exp(-np.diff(t) / self.tau)
        for i in range(1, len(p)):
            out[i] = out[i - 1] + a[i - 1] * (p[i] - out[i - 1])
        return out, out.argmax(1)


class GaussianSmoothing(_PerTrack):
    """Centred Gaussian kernel of ``sigma`` seconds over the real timestamps (non-causal)."""

    name = "gaussian"

    def __init__(self, sigma: float = 0.3, max_gap: float = 1.0) -> None:
        super().__init__(max_gap)
        self.sigma = sigma

    @classmethod
    def from_settings(cls, *, seconds: float, max_gap: float, switch_rate: float) -> GaussianSmoothing:
        return cls(sigma=seconds, max_gap=max_gap)

    def _smooth(self, p, t):
        n = len(t)
        lo = np.searchsorted(t, t - 3 * self.sigma, "left")
        hi = np.searchsorted(t, t + 3 * self.sigma, "right")
        w_max = int(max((np.arange(n) - lo).max(), (hi - 1 - np.arange(n)).max()))
        acc = np.zeros_like(p, dtype=np.float64)
        wsum = np.zeros(n)
        idx = np.arange(n)
        for k in range(-w_max, w_max + 1):
            j = idx + k
            ok = (j >= 0) & (j < n)
            jj = np.where(ok, j, 0)
            w = np.where(ok, np.exp(-0.5 * ((t[jj] - t) / self.sigma) ** 2), 0.0)
            acc += w[:, None] * p[jj]
            wsum += w
        out = (acc / wsum[:, None]).astype(np.float32)
        return out, out.argmax(1)


class HMMSmoothing(_PerTrack):
    """Hidden Markov model over emotion states with a sticky, time-aware transition matrix.

    Staying in a state over ``dt`` seconds has probability ``exp(-switch_rate * dt)``; the
    rest is spread evenly over the other states. Classifier probabilities are the emission
    scores. ``label_ids`` is the Viterbi path; ``smoothed`` holds forward-backward posteriors.

    The posteriors use *tempered* emissions: each row's log-probabilities are weighted by the
    time it stands for divided by ``evidence_seconds`` (at most 1). The classifier's outputs on
    neighbouring frames are strongly correlated (same face, same light: lag-1 autocorrelation
    0.5-0.7 at 10 fps on the sample videos, and slower biases on top), so multiplying them as
    independent observations drove the posterior to 1.00 wherever a classifier repeated an
    unsure 0.45 for a few seconds, and higher still at higher frame rates. Weighted, one second
    of video counts as about one observation at any frame rate, and the posterior stays a
    confidence. The Viterbi path keeps the untempered emissions, so the labels are exactly
    what they were; a brief expression the path keeps can have a low posterior (the model
    expects expressions to last about ``1 / switch_rate`` seconds).
    """

    name = "hmm"

    def __init__(self, switch_rate: float = 0.5, max_gap: float = 1.0, floor: float = 1e-4,
                 evidence_seconds: float = 1.0) -> None:
        super().__init__(max_gap)
        if evidence_seconds <= 0:
            raise ValueError("evidence_seconds must be > 0")
        self.switch_rate = switch_rate
        self.floor = floor
        self.evidence_seconds = evidence_seconds

    @classmethod
    def from_settings(cls, *, seconds: float, max_gap: float, switch_rate: float) -> HMMSmoothing:
        return cls(switch_rate=switch_rate, max_gap=max_gap)

    def _log_trans(self, dt: float, k: int) -> np.ndarray:
        stay = np.exp(-self.switch_rate * max(dt, 0.0))
        if k == 1:
            return np.zeros((1, 1))
        m = np.full((k, k), (1 - stay) / (k - 1))
        np.fill_diagonal(m, stay)
        return np.log(np.maximum(m, 1e-300))

    def _smooth(self, p, t):
        n, k = p.shape
        le = np.log(np.maximum(p.astype(np.float64), self.floor))
        trans = [self._log_trans(d, k) for d in np.diff(t)]
        # forward-backward (log space) on tempered emissions: see the class docstring
        lw = le * self._evidence_weights(t)[:, None]
        fa = np.empty((n, k))
        fa[0] = lw[0] - np.log(k)
        for i in range(1, n):
            fa[i] = lw[i] + _lse(fa[i - 1][:, None] + trans[i - 1], 0)
        bb = np.zeros((n, k))
        for i in range(n - 2, -1, -1):
            bb[i] = _lse(trans[i] + (lw[i + 1] + bb[i + 1])[None, :], 1)
        post = fa + bb
        post = np.exp(post - _lse(post, 1)[:, None]).astype(np.float32)
        # Viterbi
        v = le[0] - np.log(k)
        back = np.zeros((n, k), np.int64)
        for i in range(1, n):
            s = v[:, None] + trans[i - 1]
            back[i] = s.argmax(0)
            v = s.max(0) + le[i]
        path = np.empty(n, np.int64)
        path[-1] = int(v.argmax())
        for i in range(n - 1, 0, -1):
            path[i - 1] = back[i, path[i]]
        return post, path

    def _evidence_weights(self, t: np.ndarray) -> np.ndarray:
        """Per row: the seconds it stands for (time to the next row) over ``evidence_seconds``, at most 1."""
        if len(t) < 2:
            return np.ones(len(t))
        dt = np.diff(t)
        dt = np.append(dt, np.median(dt))
        return np.clip(dt / self.evidence_seconds, 0.0, 1.0)


def _lse(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


_REGISTRY: dict[str, type[_PerTrack]] = {
    "none": NoSmoothing,
    "ema": EMASmoothing,
    "gaussian": GaussianSmoothing,
    "hmm": HMMSmoothing,
}


def available() -> list[str]:
    return sorted(_REGISTRY)


def _cls(name: str) -> type[_PerTrack]:
    if name not in _REGISTRY:
        raise BackendError(f"unknown smoother {name!r}; choose one of: {', '.join(available())}")
    return _REGISTRY[name]


def create(name: str, **kwargs) -> _PerTrack:
    return _cls(name)(**kwargs)


def from_settings(name: str, *, seconds: float, max_gap: float, switch_rate: float) -> _PerTrack:
    """A smoother by name from the run's common settings (what ``AnalyzeOptions`` holds)."""
    return _cls(name).from_settings(seconds=seconds, max_gap=max_gap, switch_rate=switch_rate)
