"""The report's statistics, rliable's (Agarwal et al. 2021): its bootstrap, its estimators.

- ``iqm``: rliable's ``aggregate_iqm`` (25% trimmed mean over every entry).
- ``interval``: a statistic's 95% stratified-bootstrap percentile interval, rliable's ``get_interval_estimates``
  (runs resampled within each task; arch's ``StratifiedBootstrap``).
- ``improvement``: rliable's ``probability_of_improvement`` P(X > Y) of one agent over another, with its interval
  (``StratifiedIndependentBootstrap``: each agent's runs resampled on their own).
- ``iqm_curve``: the IQM over seeds at every evaluation with its interval (a sample-efficiency curve).
- ``window_score``: the paper's score of a run, the mean of the evaluations in the last 10k env steps.
- ``paired``: the paired difference of two matched samples with its normal 95% interval and an equivalence verdict
  against a stated margin (``benchmarks.physics_settings``, ``benchmarks.curves_equal``).
- ``seeds_from_summary``: four seed scores back from a table's mean, population std, IQM and the IQM's interval (with
  4 seeds the interval is the lowest and highest seed), for reports whose raw logs are lost.

Scores are (runs, tasks) or (runs,) arrays; a fixed seed makes every interval reproducible (RESULTS.md is rebuilt and
compared by a test).

The two estimators the bootstrap calls thousands of times, the IQM and the probability of improvement, are computed
here as rliable computes them (scipy's ``trim_mean``: the same ``np.partition`` and mean; ``mannwhitneyu``'s U as the
count of pairs x > y, ties half), without scipy's per-call input handling, which took ~95% of the time of
``python -m experiments.results`` (0.5 and 2 ms a call, ~378k calls). They equal rliable's bit for bit, NaN included
(``tests/test_results.py``).
"""
from __future__ import annotations

import numpy as np

REPS = 2000
SEED = 0
Z95 = 1.959964  # the normal distribution's two-sided 95% quantile
PAPER_WINDOW = 10_000  # env steps: "averaged across 4 seeds and a window of 10K steps" (the paper's project page)


def _matrix(scores) -> np.ndarray:
    s = np.asarray(scores, np.float64)
    return s.reshape(len(s), -1)


def _estimates(score_dict, func, reps: int, seed: int):
    """rliable's get_interval_estimates (percentile method), reproducible: it is given a seeded RandomState, and numpy's
    global generator is seeded for the call and restored after (rliable's StratifiedIndependentBootstrap, behind the
    probability of improvement's interval, draws its resamples from the global generator, not from the state it is
    given). arch's notice that it will prefer numpy Generators is silenced (rliable passes the state under its old
    name)."""
    import warnings

    from rliable import library

    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="arch")
            return library.get_interval_estimates(score_dict, func, reps=reps, random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)


def trim_mean_25(a, axis=None):
    """scipy's ``trim_mean(a, 0.25, axis)`` (rliable's IQM), computed as scipy does; NaN where a slice holds one
    (scipy's default policy), NaN for no entries."""
    a = np.asarray(a, np.float64)
    if axis is None:
        a, axis = np.ravel(a), 0
    n = a.shape[axis]
    if n == 0:
        return np.full(np.delete(a.shape, axis), np.nan)[()]
    lo = int(0.25 * n)
    kept = np.take(np.partition(a, (lo, n - lo - 1), axis), np.arange(lo, n - lo), axis)
    return np.where(np.isnan(a).any(axis=axis), np.nan, np.mean(kept, axis=axis))[()]


def probability_of_improvement(x, y) -> float:
    """rliable's ``probability_of_improvement`` of (runs_x, tasks) over (runs_y, tasks): per task U / (n_x n_y) with
    U = #(x > y) + #(x = y) / 2 (mannwhitneyu's statistic), 0.5 where the two columns are equal, NaN where a column
    holds a NaN; the mean over tasks."""
    per_task = []
    for t in range(x.shape[1]):
        a, b = x[:, t], y[:, t]
        if np.array_equal(a, b):
            per_task.append(0.5)
        elif np.isnan(a).any() or np.isnan(b).any():
            per_task.append(np.nan)
        else:
            u = np.sum(a[:, None] > b[None, :]) + 0.5 * np.sum(a[:, None] == b[None, :])
            per_task.append(u / (len(a) * len(b)))
    return np.mean(per_task)


def iqm(scores) -> float:
    """Interquartile mean of all entries (rliable's aggregate_iqm)."""
    return float(trim_mean_25(scores))


def interval(scores, stat=iqm, reps: int = REPS, seed: int = SEED) -> tuple[float, float]:
    """95% stratified-bootstrap percentile interval of ``stat`` over (runs, tasks) scores (rliable). One run: the
    degenerate interval (its value)."""
    s = _matrix(scores)
    if s.shape[0] < 2:
        v = stat(s)
        return v, v
    _, ci = _estimates({"x": s}, lambda x: np.array([stat(x)]), reps, seed)
    lo, hi = ci["x"][:, 0]
    return float(lo), float(hi)


def improvement(x, y, reps: int = REPS, seed: int = SEED) -> tuple[float, float, float]:
    """P(a run of X scores above a run of Y, ties count half) per task averaged over tasks, rliable's
    ``probability_of_improvement``, with its 95% bootstrap interval (each agent's runs resampled on their own).
    x: (runs_x, tasks), y: (runs_y, tasks). Returns (probability, lo, hi)."""
    x, y = _matrix(x), _matrix(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"improvement: x has {x.shape[1]} tasks, y {y.shape[1]}")
    p = float(probability_of_improvement(x, y))
    if min(len(x), len(y)) < 2:
        return p, p, p
    _, ci = _estimates({"xy": (x, y)}, probability_of_improvement, reps, seed)
    lo, hi = np.ravel(ci["xy"])
    return p, float(lo), float(hi)


def iqm_curve(returns, reps: int = REPS, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """returns: (seeds, evaluations) -> (IQM, lo, hi), each (evaluations,): the IQM over seeds at every evaluation and
    its 95% stratified-bootstrap interval (rliable; one resample of seeds serves every evaluation). aggregate_iqm of one
    evaluation is the 25% trim_mean of its column; here it is taken for all columns in one call."""
    r = np.asarray(returns, np.float64)
    assert r.ndim == 2, r.shape
    per_eval = lambda s: trim_mean_25(s[:, 0, :], axis=0)  # noqa: E731  s: (seeds, 1 task, evaluations)
    point = per_eval(r[:, None, :])
    if r.shape[0] < 2:
        return point, point, point
    _, ci = _estimates({"x": r[:, None, :]}, per_eval, reps, seed)
    return point, ci["x"][0], ci["x"][1]


def window_score(steps, returns, window: int = PAPER_WINDOW) -> np.ndarray:
    """The paper's score of each seed: the mean of its evaluations in the last ``window`` env steps of the run,
    (last step - window, last step]. steps: (evaluations,), returns: (seeds, evaluations) -> (seeds,)."""
    steps = np.asarray(steps)
    r = np.asarray(returns, np.float64)
    if r.size == 0:
        return np.full(r.shape[:1], np.nan)
    keep = steps > steps[-1] - window
    return r[:, keep].mean(1)


def seeds_from_summary(mean: float, std: float, iqm_: float, lo: float, hi: float, tol: float = 0.5) -> np.ndarray:
    """The four seed scores of a table row that gives their mean, population std, IQM and the IQM's 95% bootstrap
    interval. With 4 seeds the IQM is the mean of the middle two, b + c = 2 IQM, and the interval is the lowest and
    highest seed (``interval``: a resample has the lowest seed in both middle places 13 times in 256, more than the
    2.5% the percentile interval leaves out), a = lo, d = hi; the std then gives b and c apart:
    b^2 + c^2 = 4 (std^2 + mean^2) - a^2 - d^2. The sum of the four is checked against 4 mean, up to the table's
    rounding (``tol``); ValueError where the numbers are not those of 4 seeds."""
    middle = 4 * mean - lo - hi  # b + c from the mean; 2 IQM from the IQM
    if abs(middle - 2 * iqm_) > tol:
        raise ValueError(f"mean {mean}, IQM {iqm_} and interval [{lo}, {hi}] are not those of 4 seeds")
    squares = 4 * (std ** 2 + mean ** 2) - lo ** 2 - hi ** 2
    gap = 2 * squares - middle ** 2  # (c - b)^2
    if gap < -tol * abs(middle):
        raise ValueError(f"std {std} is too small for 4 seeds with mean {mean} and range [{lo}, {hi}]")
    d = np.sqrt(max(gap, 0.0))
    seeds = np.array([lo, (middle - d) / 2, (middle + d) / 2, hi])
    if not (seeds[0] <= seeds[1] + tol and seeds[2] <= seeds[3] + tol):
        raise ValueError(f"the middle seeds {seeds[1:3]} fall outside the range [{lo}, {hi}]")
    return seeds


def paired(native, candidate, scale: float, margin: float) -> dict:
    """The paired difference (candidate - native) of paired values (episodes, seeds), its 95% normal interval and
    the equivalence verdict against +-margin * |scale|: ``equivalent`` inside, ``not equivalent`` outside,
    ``undetermined`` across. A pair whose candidate value is not finite (a simulation that blew up) makes the verdict
    ``not equivalent``; the statistics are then over the finite pairs."""
    a, b = np.asarray(native, float), np.asarray(candidate, float)
    finite = np.isfinite(a) & np.isfinite(b)
    nonfinite = int((~finite).sum())
    a, b = a[finite], b[finite]
    d = b - a
    n = len(d)
    mean = float(d.mean()) if n else float("nan")
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    lo, hi = mean - Z95 * se, mean + Z95 * se
    m = margin * abs(scale)
    verdict = ("not equivalent" if nonfinite else "equivalent" if -m <= lo and hi <= m
               else "not equivalent" if lo > m or hi < -m else "undetermined")
    return {"n": n, "nonfinite": nonfinite, "mean_native": float(a.mean()) if n else float("nan"),
            "mean_candidate": float(b.mean()) if n else float("nan"), "diff": mean, "se": se,
            "ci95": [lo, hi], "margin": m, "rel_diff": mean / abs(scale) if scale else float("inf"),
            "rel_ci95": [lo / abs(scale), hi / abs(scale)] if scale else None, "verdict": verdict,
            "identical": bool(np.array_equal(a, b)) and not nonfinite}
