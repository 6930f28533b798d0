"""The failure-mode classifier: a small softmax model over routing signals.

Multinomial logistic regression (L2-regularised, fitted by full-batch gradient descent
in numpy) over :data:`~crossroads.agents._signals.FEATURES`. Small on purpose: a few
hundred labelled questions fit it in well under a second, its weights can be read, and
each decision's reasons are the features that added most to the chosen route's score.

A model starts from the labelled rows shipped with the package (``_router_rows.json``:
the pharma example's fit questions as feature rows, so no data is needed to route a new
domain), and :meth:`RouteModel.fit` adds the user's own labelled rows to those.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from crossroads.agents._signals import FEATURES
from crossroads.agents._types import ROUTES, Route
from crossroads.errors import ConfigError

__all__ = ["FitReport", "LabelledRow", "RouteModel", "default_rows"]


@dataclass(frozen=True, slots=True)
class LabelledRow:
    """One labelled question as the model sees it: its features and its route."""

    features: Mapping[str, float]
    route: Route
    question: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FitReport:
    """What :meth:`RouteModel.fit` learned from."""

    rows: int
    """Rows fitted (the shipped ones included)."""
    added: int
    """Rows given to this fit."""
    per_route: Mapping[str, int]
    train_accuracy: float
    """Accuracy on the rows it was fitted on (an optimistic figure: hold some out)."""


def default_rows() -> list[LabelledRow]:
    """The labelled rows shipped with the package."""
    text = resources.files("crossroads.agents").joinpath("_router_rows.json").read_text("utf-8")
    data = json.loads(text)
    return [
        LabelledRow({k: float(v) for k, v in r["features"].items()}, r["route"], r["question"])
        for r in data["rows"]
    ]


def _matrix(rows: Sequence[Mapping[str, float]]) -> np.ndarray:
    return np.array([[float(r.get(name, 0.0)) for name in FEATURES] for r in rows], dtype=float)


class RouteModel:
    """Softmax regression from features to routes.

    >>> model = RouteModel.default()                         # doctest: +SKIP
    >>> model.scores(features, available=("sql", "rag"))     # doctest: +SKIP
    {'sql': 0.93, 'rag': 0.07}
    """

    def __init__(self, *, l2: float = 0.01, steps: int = 1500, rate: float = 0.5) -> None:
        if l2 < 0 or steps < 1 or rate <= 0:
            raise ConfigError(f"bad RouteModel settings: l2={l2}, steps={steps}, rate={rate}")
        self.l2 = l2
        self.steps = steps
        self.rate = rate
        self.weights = np.zeros((len(FEATURES), len(ROUTES)))
        self.rows: list[LabelledRow] = []

    @classmethod
    def default(cls) -> RouteModel:
        """A model fitted on the shipped rows."""
        model = cls()
        model.fit(default_rows(), replace=True)
        return model

    def fit(self, rows: Iterable[LabelledRow], *, replace: bool = False) -> FitReport:
        """Fit on the rows fitted so far plus ``rows``; on ``rows`` alone with
        ``replace=True``."""
        added = list(rows)
        for row in added:
            if row.route not in ROUTES:
                raise ConfigError(
                    f"route {row.route!r} of {row.question!r} is not one of {', '.join(ROUTES)}"
                )
        data = added if replace else [*self.rows, *added]
        if not data:
            raise ConfigError("nothing to fit: give labelled questions")
        x = _matrix([r.features for r in data])
        y = np.zeros((len(data), len(ROUTES)))
        for i, row in enumerate(data):
            y[i, ROUTES.index(row.route)] = 1.0
        # balance the routes: each route weighs the same in the loss
        counts = y.sum(axis=0)
        weight = y @ np.where(counts > 0, len(data) / (len(ROUTES) * np.maximum(counts, 1)), 0)
        w = np.zeros((len(FEATURES), len(ROUTES)))
        for _ in range(self.steps):
            p = _softmax(x @ w)
            grad = x.T @ ((p - y) * weight[:, None]) / len(data) + self.l2 * w
            w -= self.rate * grad
        self.weights = w
        self.rows = data
        predicted = np.argmax(x @ w, axis=1)
        return FitReport(
            rows=len(data),
            added=len(added),
            per_route={r: int(counts[i]) for i, r in enumerate(ROUTES)},
            train_accuracy=float(np.mean(predicted == np.argmax(y, axis=1))),
        )

    def scores(
        self, features: Mapping[str, float], *, available: Sequence[Route] = ROUTES
    ) -> dict[Route, float]:
        """Probability of each available route (summing to 1)."""
        if not available:
            return {}
        x = np.array([float(features.get(n, 0.0)) for n in FEATURES])
        logits = x @ self.weights
        idx = [ROUTES.index(r) for r in available]
        p = _softmax(logits[idx][None, :])[0]
        return {r: float(p[i]) for i, r in enumerate(available)}

    def contributions(self, features: Mapping[str, float], route: Route) -> list[tuple[str, float]]:
        """Each feature's push towards ``route`` against the other routes' mean, largest
        first (the decision's reasons)."""
        j = ROUTES.index(route)
        out = []
        for i, name in enumerate(FEATURES):
            value = float(features.get(name, 0.0))
            if value == 0.0 or name == "bias":
                continue
            row = self.weights[i]
            push = value * (row[j] - (row.sum() - row[j]) / (len(ROUTES) - 1))
            out.append((name, float(push)))
        return sorted(out, key=lambda t: -t[1])

    def to_dict(self) -> dict[str, Any]:
        """The weights, by feature and route (to inspect or save)."""
        return {
            name: {r: round(float(self.weights[i, j]), 4) for j, r in enumerate(ROUTES)}
            for i, name in enumerate(FEATURES)
        }


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out
