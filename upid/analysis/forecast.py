"""Hourly usage forecasts with a p50 and a p90, each backtested against seasonal naive.

One global model per resource and quantile (scikit-learn's HistGradientBoostingRegressor, quantile loss) is
trained at run time on every container of the window: each row is a forecast origin in a container's past and a
target hour up to the horizon ahead, described by the hour of day and week, the horizon, the value the same hour
one day and one week earlier, and the last day's and week's means, all divided by the container's weekly level.
Pooling the containers lets a short history borrow shape from the others (the M5 competition's lesson).

Backtest: the same procedure is fitted without the last horizon of history and scored on it. MASE here is the
model's MAE divided by the MAE of the seasonal-naive forecast over the same hours (the same hour one day or one
week earlier, whichever fitted the container's training part better): below 1 the model beats seasonal naive.
Where seasonal naive was exact (the series repeats itself) or the model lost by more than `fallback_above`,
the container's forecast is seasonal naive, and says so. Measured out of sample, a fallback on any loss of
one noisy backtest made the median forecast worse (docs/forecast.md), so by default only exact repeats do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from upid.analysis.history import ContainerHistory, unique_sorted

HOUR, DAY, WEEK = 3600, 24, 168
QUANTILES = (0.5, 0.9)
MAX_ROWS = 120_000  # training rows per model, sampled evenly over containers and origins
SEED = 0
MODEL = "gbm-quantile"


@dataclass(frozen=True)
class ModelSettings:
    """The model's settings, chosen on one month of the Bitbrains trace and reported on the other
    (bench/forecast.py, docs/forecast.md): small, regularised trees generalise better than deep ones, and a
    per-series fallback to seasonal naive on one noisy backtest costs more than it saves."""

    max_leaf_nodes: int = 7
    min_samples_leaf: int = 400
    max_iter: int = 150
    fallback_above: float = float("inf")  # backtest MASE above which a series is forecast by seasonal naive
    refit: bool = True  # fit again on the whole history for the forecast (False: the backtest's models serve)


@dataclass(frozen=True)
class Series:
    key: tuple[str, str, str, str]
    resource: str  # cpu | memory
    first_hour: int  # epoch hours of values[0]
    values: np.ndarray  # hourly mean of the container's total over its pods; gaps filled


@dataclass(frozen=True)
class Forecast:
    key: tuple[str, str, str, str]
    resource: str
    first_hour: int  # epoch hours of p50[0]
    p50: np.ndarray
    p90: np.ndarray
    model: str  # gbm-quantile | seasonal-naive-day | seasonal-naive-week
    mase: float | None  # backtest of the chosen model; None when the history is too short to backtest
    p90_coverage: float | None
    model_mase: float | None  # the gbm's own backtest MASE, kept when seasonal naive was chosen instead
    note: str | None = None


def hourly(h: ContainerHistory, resource: str, end: int) -> Series:
    """The container's total over its pods, averaged per hour, up to the hour holding `end`."""
    values = h.cpu if resource == "cpu" else h.memory
    ts, inverse = unique_sorted(h.ts)
    total = np.bincount(inverse, weights=values)
    hours = ts // HOUR
    first, last = int(hours.min()), int(end // HOUR)
    index = hours - first
    n = last - first + 1
    sums = np.bincount(index, weights=total, minlength=n)[:n]
    counts = np.bincount(index, minlength=n)[:n]
    out = np.full(n, np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return Series(h.key, resource, first, _fill(out))


def _fill(y: np.ndarray) -> np.ndarray:
    """Missing hours take the value a day earlier, else the last value seen, else the mean."""
    y = y.copy()
    for i in np.flatnonzero(np.isnan(y)):
        if i >= DAY and not np.isnan(y[i - DAY]):
            y[i] = y[i - DAY]
        elif i > 0 and not np.isnan(y[i - 1]):
            y[i] = y[i - 1]
    if np.isnan(y).any():
        y[np.isnan(y)] = np.nanmean(y) if not np.isnan(y).all() else 0.0
    return y


def _origin_stats(y: np.ndarray, origins: np.ndarray) -> dict[str, np.ndarray]:
    """What each forecast origin knows of the recent past: the last week's mean (the scale), median and spread,
    the last day's and last six hours' means, and the last value."""
    cum = np.r_[0.0, np.cumsum(y)]
    weeks = np.lib.stride_tricks.sliding_window_view(y, WEEK)[origins - WEEK + 1]
    return {
        "scale": (cum[origins + 1] - cum[origins + 1 - WEEK]) / WEEK + 1e-9,
        "median": np.median(weeks, axis=1),
        "std": weeks.std(axis=1),
        "day": (cum[origins + 1] - cum[origins + 1 - DAY]) / DAY,
        "recent": (cum[origins + 1] - cum[origins - 5]) / 6,
        "last": y[origins],
    }


def _features(y: np.ndarray, first_hour: int, origins: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows for the targets origins[i] + steps[i], each from the history up to its origin (inclusive); and the
    scale of each row (its origin's last-week mean), which the features and targets are divided by."""
    unique, which = unique_sorted(origins)
    stats = {k: v[which] for k, v in _origin_stats(y, unique).items()}
    scale = stats["scale"]
    target = origins + steps
    hour = (first_hour + target) % DAY
    weekday = ((first_hour + target) // DAY + 3) % 7  # epoch day 0 was a Thursday
    last_same_hour = target - DAY * np.ceil(steps / DAY).astype(int)
    profile = np.sort(y[last_same_hour[:, None] - DAY * np.arange(7)[None, :]], axis=1)  # that hour, last 7 days
    x = np.column_stack(
        [
            hour,
            weekday,
            steps / WEEK,
            y[last_same_hour] / scale,
            y[target - WEEK] / scale,
            profile.mean(axis=1) / scale,
            profile[:, 3] / scale,  # median of 7
            (profile[:, 1] + 0.5 * (profile[:, 2] - profile[:, 1])) / scale,  # p25, as np.quantile interpolates
            (profile[:, 4] + 0.5 * (profile[:, 5] - profile[:, 4])) / scale,  # p75
            stats["recent"] / scale,
            stats["median"] / scale,
            stats["day"] / scale,
            stats["std"] / scale,
            stats["last"] / scale,
        ]
    )
    return x, scale


def _training_pairs(length: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(origin, step) of every daily origin with a week behind it and each target inside the history."""
    origins = np.arange(WEEK - 1, length - 1, DAY)
    counts = np.minimum(horizon, length - 1 - origins)
    repeated = np.repeat(origins, counts)
    steps = np.arange(len(repeated)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return repeated, steps


def _training(series: list[np.ndarray], firsts: list[int], horizon: int, rng: np.random.Generator) -> tuple[Any, ...]:
    """(X, y) over every container and every daily origin whose targets lie in its history, sampled."""
    xs, ys = [], []
    for y, first in zip(series, firsts, strict=True):
        origins, steps = _training_pairs(len(y), horizon)
        if not len(origins):
            continue
        x, scale = _features(y, first, origins, steps)
        xs.append(x)
        ys.append(y[origins + steps] / scale)
    if not xs:
        return None, None
    x, target = np.vstack(xs), np.concatenate(ys)
    if len(target) > MAX_ROWS:
        keep = rng.choice(len(target), MAX_ROWS, replace=False)
        x, target = x[keep], target[keep]
    return x, target


def _fit(x: np.ndarray, y: np.ndarray, settings: ModelSettings) -> list[Any]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    models = []
    for q in QUANTILES:
        model = HistGradientBoostingRegressor(
            loss="quantile",
            quantile=q,
            max_iter=settings.max_iter,
            learning_rate=0.1,
            max_leaf_nodes=settings.max_leaf_nodes,
            min_samples_leaf=settings.min_samples_leaf,
            random_state=SEED,
        )
        models.append(model.fit(x, y))
    return models


def _predict_many(models: list[Any], items: list[tuple[np.ndarray, int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """p50 and p90 for each (history, first hour, horizon), from one predict call per model for all of them
    (a call per series costs 2.5x the time in scikit-learn's per-call overhead)."""
    if not items:
        return []
    rows, scales = [], []
    for y, first, horizon in items:
        steps = np.arange(1, horizon + 1)
        x, scale = _features(y, first, np.full(horizon, len(y) - 1), steps)
        rows.append(x)
        scales.append(scale)
    x, scale = np.vstack(rows), np.concatenate(scales)
    p50, p90 = (np.clip(m.predict(x), 0, None) * scale for m in models)
    bounds = np.cumsum([0] + [h for _, _, h in items])
    return [(p50[a:b], np.maximum(p90[a:b], p50[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _naive(y: np.ndarray, horizon: int, period: int) -> np.ndarray:
    steps = np.arange(1, horizon + 1)
    origin = len(y) - 1
    if period == WEEK:
        return y[origin + steps - WEEK]
    naive: np.ndarray = y[origin + steps - DAY * np.ceil(steps / DAY).astype(int)]
    return naive


def _naive_period(y: np.ndarray) -> int:
    """The seasonal period whose one-season-back guess fitted the series' last week better."""
    if len(y) < 2 * WEEK:
        return DAY
    recent = slice(len(y) - WEEK, len(y))
    day = np.abs(y[recent] - y[len(y) - WEEK - DAY : len(y) - DAY]).mean()
    week = np.abs(y[recent] - y[len(y) - 2 * WEEK : len(y) - WEEK]).mean()
    return WEEK if week < day else DAY


def _naive_band(y: np.ndarray, period: int) -> float:
    """The p90 of seasonal-naive errors over the history: added to the naive forecast as its p90."""
    errors = y[period:] - y[:-period]
    return float(np.quantile(errors, 0.9)) if len(errors) else 0.0


def _calibrate(held: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """How much to widen the p90 band (p90 - p50) so that 90 % of the backtest's held-out hours fall under it.
    Quantile models under-cover out of sample; this is split-conformal calibration on the cluster's own history."""
    ratios = []
    for truth, p50, p90 in held:
        band = np.maximum(p90 - p50, 1e-12)
        ratios.append((truth - p50) / band)
    if not ratios:
        return 1.0
    return max(1.0, float(np.quantile(np.concatenate(ratios), 0.9)))


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def forecast(
    series: list[Series], horizon: int, fallback: bool = True, settings: ModelSettings | None = None
) -> list[Forecast]:
    """Forecast every series `horizon` hours ahead; one resource at a time (the models are per resource).
    `fallback=False` keeps the model even where seasonal naive won its backtest (for evaluation)."""
    settings = settings or ModelSettings()
    out: list[Forecast] = []
    for resource in sorted({s.resource for s in series}):
        out += _forecast_resource([s for s in series if s.resource == resource], horizon, fallback, settings)
    return out


@dataclass(frozen=True)
class _Backtest:
    model_mase: float
    model_coverage: float  # of the widened p90
    naive_coverage: float
    naive_exact: bool  # seasonal naive had no error at all: the series repeats exactly, nothing to learn

    def prefers_naive(self, settings: ModelSettings) -> bool:
        return self.naive_exact or self.model_mase > settings.fallback_above


def _backtest(
    series: list[Series], horizon: int, rng: np.random.Generator, settings: ModelSettings
) -> tuple[dict[int, _Backtest], float, list[Any] | None]:
    """Fit without each series' last `horizon` hours (or as many as its history allows beyond the week the
    features look back and two days of training targets, at least a day) and score on them. Also returns the
    factor that widens the p90 band to cover 90 % of the held-out hours, and the models fitted."""
    holds = {id(s): min(horizon, len(s.values) - WEEK - 2 * DAY) for s in series}
    usable = [s for s in series if holds[id(s)] >= DAY]
    cut = [s.values[: -holds[id(s)]] for s in usable]
    x, y = _training(cut, [s.first_hour for s in usable], horizon, rng) if usable else (None, None)
    if x is None:
        return {}, 1.0, None
    models = _fit(x, y, settings)
    predicted = _predict_many(models, [(past, s.first_hour, holds[id(s)]) for s, past in zip(usable, cut, strict=True)])
    held = [
        (s, past, s.values[-holds[id(s)] :], p50, p90)
        for (s, past), (p50, p90) in zip(zip(usable, cut, strict=True), predicted, strict=True)
    ]
    widen = _calibrate([(truth, p50, p90) for _, _, truth, p50, p90 in held])
    results = {}
    for s, past, truth, p50, p90 in held:
        period = _naive_period(past)
        naive = _naive(past, len(truth), period)
        naive_mae, model_mae = _mae(naive, truth), _mae(p50, truth)
        mase = model_mae / naive_mae if naive_mae > 0 else (0.0 if model_mae == 0 else 1.0)
        results[id(s)] = _Backtest(
            mase,
            float(np.mean(truth <= p50 + widen * (p90 - p50))),
            float(np.mean(truth <= naive + _naive_band(past, period))),
            naive_mae == 0 and model_mae > 0,
        )
    return results, widen, models


def _forecast_resource(series: list[Series], horizon: int, fallback: bool, settings: ModelSettings) -> list[Forecast]:
    rng = np.random.default_rng(SEED)
    backtests, widen, models = _backtest(series, horizon, rng, settings)
    if settings.refit or models is None:  # the forecast itself: fitted again on all the history
        full = [s for s in series if len(s.values) >= WEEK + DAY]
        x, y = _training([s.values for s in full], [s.first_hour for s in full], horizon, rng) if full else (None, None)
        models = _fit(x, y, settings) if x is not None else None

    def modelled(s: Series) -> bool:
        bt = backtests.get(id(s))
        naive = fallback and bt is not None and bt.prefers_naive(settings)
        return models is not None and len(s.values) >= WEEK + DAY and not naive

    chosen = [s for s in series if modelled(s)]
    predicted = dict(
        zip(
            map(id, chosen),
            _predict_many(models or [], [(s.values, s.first_hour, horizon) for s in chosen]),
            strict=True,
        )
    )
    result = []
    for s in series:
        first = s.first_hour + len(s.values)
        bt = backtests.get(id(s))
        if id(s) in predicted:
            p50, p90 = predicted[id(s)]
            mase, coverage = (_r(bt.model_mase), _r(bt.model_coverage)) if bt else (None, None)
            note = None if bt else "history too short to backtest (needs 10 days)"
            p90 = p50 + widen * (p90 - p50)
            result.append(Forecast(s.key, s.resource, first, p50, p90, MODEL, mase, coverage, mase, note))
        elif len(s.values) >= DAY:  # less than a day: nothing to repeat
            result.append(_naive_forecast(s, horizon, bt))
    return result


def _naive_forecast(s: Series, horizon: int, bt: _Backtest | None) -> Forecast:
    period = _naive_period(s.values)
    p50 = _naive(s.values, horizon, period)
    p90 = p50 + max(0.0, _naive_band(s.values, period))
    name = "seasonal-naive-week" if period == WEEK else "seasonal-naive-day"
    first = s.first_hour + len(s.values)
    if bt is None:
        note = "history shorter than a week and a day: seasonal naive, not backtested"
        return Forecast(s.key, s.resource, first, p50, p90, name, None, None, None, note)
    if bt.naive_exact:
        note = "the series repeats itself exactly: seasonal naive had no error in the backtest"
    else:
        note = f"{MODEL} did not beat seasonal naive in the backtest (MASE {bt.model_mase:.2f})"
    return Forecast(s.key, s.resource, first, p50, p90, name, 1.0, _r(bt.naive_coverage), _r(bt.model_mase), note)


def _r(v: float) -> float:
    return round(float(v), 3)
