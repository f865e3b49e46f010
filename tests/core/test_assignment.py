import numpy as np
import pytest

from fervideo.core.assignment import linear_sum_assignment


@pytest.mark.parametrize("maximize", [False, True])
def test_matches_scipy_on_random_matrices(maximize):
    scipy_lsa = pytest.importorskip("scipy.optimize").linear_sum_assignment
    rng = np.random.default_rng(0)
    for k in range(600):
        n, m = rng.integers(0, 9, 2)
        cost = rng.random((n, m))
        if k % 3 == 0:
            cost = np.round(cost, 1)  # ties: several optima, the same summed cost
        r1, c1 = scipy_lsa(cost, maximize=maximize)
        r2, c2 = linear_sum_assignment(cost, maximize=maximize)
        assert len(r2) == min(n, m)
        assert np.all(np.diff(r2) > 0) and len(set(c2.tolist())) == len(c2)
        assert cost[r2, c2].sum() == pytest.approx(cost[r1, c1].sum(), abs=1e-9)
        if k % 3:
            assert r2.tolist() == r1.tolist() and c2.tolist() == c1.tolist()


def test_known_answer_and_bad_input():
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    rows, cols = linear_sum_assignment(cost)
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [1, 0, 2]  # 1 + 2 + 2
    rows, cols = linear_sum_assignment(np.zeros((0, 3)))
    assert rows.shape == cols.shape == (0,)
    with pytest.raises(ValueError, match="finite"):
        linear_sum_assignment(np.array([[np.inf, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        linear_sum_assignment(np.zeros(3))
