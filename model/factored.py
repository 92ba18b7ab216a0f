"""A design matrix whose spelling block is kept as a product of three factors, and the heads' fit on it.

The spelling block of the training matrix (each comment's words' character n-grams, summed and
normalised) holds about 17 of its 21 million cells, and a head's fit spends its time multiplying
the matrix by its coefficients. That block is ``diag(weights) @ counts @ units``: comments by words,
words by n-grams. Multiplying by the factors in turn reads about a fifth of the cells. The fit is
scikit-learn's: its multinomial loss and its Newton-CG solver, given the matrix as an operator.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.optimize import _newton_cg


class FactoredRows:
    """Rows of ``[text | diag(weights) @ counts @ units | dense]``, multiplied factor by factor."""

    __array_ufunc__ = None  # ``array @ rows`` comes to ``__rmatmul__``, as for scipy's matrices
    dtype = np.dtype(np.float64)
    ndim = 2

    def __init__(self, text: sp.csr_matrix, weights: np.ndarray, counts: sp.csr_matrix,
                 units: sp.csr_matrix, dense: np.ndarray) -> None:
        self.text, self.weights, self.counts, self.units = text, weights, counts, units
        self.dense = np.ascontiguousarray(dense, dtype=np.float64)
        self.widths = (text.shape[1], units.shape[1], self.dense.shape[1])
        self.shape = (text.shape[0], sum(self.widths))

    def __getitem__(self, rows: np.ndarray) -> FactoredRows:
        """The rows at these indices (or where a boolean mask is true)."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return FactoredRows(self.text[rows], self.weights[rows], self.counts[rows], self.units, self.dense[rows])

    def scaled(self, scale: np.ndarray) -> FactoredRows:
        """The same rows with every column multiplied by its ``scale``."""
        text_scale, unit_scale, dense_scale = np.split(scale, np.cumsum(self.widths)[:2])
        return FactoredRows(self.text @ sp.diags(text_scale, format="csr"), self.weights, self.counts,
                            self.units @ sp.diags(unit_scale, format="csr"), self.dense * dense_scale)

    def __matmul__(self, coefficients: np.ndarray) -> np.ndarray:
        """Rows times a (columns × k) array, or a vector of the columns."""
        coefficients = np.asarray(coefficients)
        if coefficients.ndim == 1:
            return (self @ coefficients[:, None]).ravel()
        text, units, dense = np.split(coefficients, np.cumsum(self.widths)[:2])
        spelling = self.counts @ (self.units @ units)
        return np.asarray(self.text @ text) + self.weights[:, None] * spelling + self.dense @ dense

    def __rmatmul__(self, left: np.ndarray) -> np.ndarray:
        """A (k × rows) array times the rows."""
        left = np.asarray(left)
        spelling = ((left * self.weights) @ self.counts) @ self.units
        return np.hstack([left @ self.text, spelling, left @ self.dense])

    def spelling_block(self) -> sp.csr_matrix:
        """The spelling block as one sparse matrix."""
        return (sp.diags(self.weights) @ (self.counts @ self.units)).tocsr()

    def words(self) -> sp.csr_matrix:
        """The text and spelling blocks as one sparse matrix (the n-gram columns)."""
        return sp.hstack([self.text, self.spelling_block()], format="csr")

    def matrix(self) -> sp.csr_matrix:
        """All the rows' columns as one sparse matrix."""
        return sp.hstack([self.words(), sp.csr_matrix(self.dense)], format="csr")


def fit_multinomial(rows: FactoredRows, y: np.ndarray, C: float, tol: float, max_iter: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classes, coefficients and intercepts of ``LogisticRegression(C, class_weight="balanced",
    solver="newton-cg", tol, max_iter)`` fitted on three or more classes: the same loss, weights,
    penalty and solver, on the factored rows."""
    classes, target = np.unique(y, return_inverse=True)
    sample_weight = compute_class_weight("balanced", classes=classes, y=y)[target]
    loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=len(classes)), fit_intercept=True)
    start = np.zeros((len(classes), rows.shape[1] + 1), order="F").ravel(order="F")
    penalty = 1.0 / (C * float(np.sum(sample_weight)))
    solution, _ = _newton_cg(grad_hess=loss.gradient_hessian_product, func=loss.loss, grad=loss.gradient,
                             x0=start, args=(rows, target.astype(np.float64), sample_weight, penalty, 1),
                             maxiter=max_iter, tol=tol, verbose=0)
    parameters = solution.reshape((len(classes), -1), order="F")
    return classes, parameters[:, :-1], parameters[:, -1]
