"""The factored design matrix: its products are the explicit matrix's, and the heads' fit on it is
scikit-learn's LogisticRegression."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from model.factored import FactoredRows, fit_multinomial
from model.spelling import summed_factors, summed_vectors


@pytest.fixture(scope="module")
def rows() -> FactoredRows:
    rng = np.random.default_rng(0)
    n = 1200
    counts = sp.random(n, 300, density=0.02, random_state=2, format="csr")
    counts.data[:] = rng.integers(1, 3, counts.nnz)
    return FactoredRows(sp.random(n, 500, density=0.02, random_state=1, format="csr"), rng.random(n) + 0.5,
                        counts, sp.random(300, 700, density=0.03, random_state=3, format="csr"),
                        rng.normal(size=(n, 4)))


def test_products_slices_and_scaling_are_the_explicit_matrixs(rows: FactoredRows) -> None:
    rng = np.random.default_rng(1)
    matrix = rows.matrix()
    right, left = rng.normal(size=(rows.shape[1], 3)), rng.normal(size=(3, rows.shape[0]))
    assert rows.shape == matrix.shape
    np.testing.assert_allclose(rows @ right, matrix @ right, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rows @ right[:, 0], matrix @ right[:, 0], rtol=0, atol=1e-12)  # a vector
    np.testing.assert_allclose(left @ rows, left @ matrix, rtol=0, atol=1e-12)  # through __rmatmul__
    mask = rng.random(rows.shape[0]) < 0.4
    for picked in (mask, np.flatnonzero(mask)[::-1]):
        np.testing.assert_allclose(rows[picked] @ right, matrix[picked] @ right, rtol=0, atol=1e-12)
    scale = rng.random(rows.shape[1]) + 0.5
    np.testing.assert_allclose(rows.scaled(scale) @ right, (matrix @ sp.diags(scale)) @ right, rtol=0, atol=1e-12)


def test_the_fit_is_logistic_regressions_to_the_bit_on_one_matrix(rows: FactoredRows) -> None:
    """The same loss, class weights, penalty and solver: given the explicit matrix it is bit-identical."""
    y = np.random.default_rng(2).integers(0, 3, rows.shape[0])
    model = LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000, solver="newton-cg", tol=1e-4)
    model.fit(rows.matrix(), y)
    classes, coef, intercept = fit_multinomial(rows.matrix(), y, 8.0, 1e-4, 2000)
    assert classes.tolist() == [0, 1, 2]
    assert np.array_equal(coef, model.coef_) and np.array_equal(intercept, model.intercept_)


def test_on_the_factors_it_reaches_the_same_optimum(rows: FactoredRows) -> None:
    """Only the order of the products' sums differs: at a tight tolerance both reach one optimum."""
    y = np.random.default_rng(3).integers(0, 3, rows.shape[0])
    model = LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000, solver="newton-cg", tol=1e-10)
    model.fit(rows.matrix(), y)
    _, coef, intercept = fit_multinomial(rows, y, 8.0, 1e-10, 2000)
    np.testing.assert_allclose(coef, model.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(intercept, model.intercept_, rtol=0, atol=1e-8)


def test_summed_vectors_are_their_factors_product() -> None:
    vectors = {"a": [1.0, 0.0, 2.0], "b": [0.0, 3.0, 0.0], "c": [1.0, 1.0, 1.0]}

    def vectors_of(units: list[str]) -> sp.csr_matrix:
        return sp.csr_matrix(np.array([vectors[u] for u in units]))

    comments = [["a", "b", "a"], [], ["c"]]
    weights, counts, units = summed_factors(comments, vectors_of)
    assert np.array_equal((sp.diags(weights) @ (counts @ units)).toarray(), summed_vectors(comments, vectors_of).toarray())
    np.testing.assert_allclose(summed_vectors(comments, vectors_of).toarray()[0],
                               np.array([2.0, 3.0, 4.0]) / np.sqrt(2 * 5 + 9))
