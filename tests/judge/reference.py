#!/usr/bin/env python3
"""SciPy's reference values for aviary/judge's Mann-Whitney statistics (test-only).

    python3 tests/judge/reference.py CASES_JSON OUT_JSON

Reads the sample pairs of CASES_JSON (tests/judge/cases.json) and writes, for each pair, what
SciPy computes, which plugins/judge/tests/reference.rs compares with the judge:

- ``u`` and ``p_value``: ``scipy.stats.mannwhitneyu(canary, baseline, alternative="two-sided",
  method="asymptotic", use_continuity=True)``: the normal approximation with the tie correction
  and the continuity correction, which is R's ``wilcox.test(exact=FALSE, correct=TRUE)`` and
  the statistic Kayenta's MannWhitney (a port of R's) is built on.
- ``lower``/``upper``: the confidence interval of the shift canary - baseline, obtained by
  inverting SciPy's test: the test's statistic only changes where the shift crosses a pairwise
  difference canary_i - baseline_j, so SciPy's p-value is computed for a shift inside each gap
  between consecutive differences, and the interval is the span of the gaps where the test does
  not reject at 1 - confidence (clamped to [min diff, max diff], as Kayenta clamps). This is the
  definition of the interval, computed independently of the judge's root finding.
- ``estimate_range``: the span where SciPy's p-value is 1 (the corrected statistic is zero),
  in which the judge's estimate (a root of that statistic) must lie.
- ``labels``: Kayenta's classification (direction either/increase/decrease, tolerance 0.25,
  mean-ratio effect size with the default thresholds of 1) decided from the above, or null when
  the estimate's range leaves it undecided; and ``scoring``, Kayenta's weighted score of the
  metrics listed in the cases file, from these labels.

The script runs itself in a virtualenv with pinned SciPy and NumPy, which it creates on first use
in ~/.cache/aviary/venv-judge (or $AVIARY_JUDGE_VENV) with ``python3 -m venv`` and pip (Debian:
python3-venv, which scripts/prerequisites.sh installs). Any failure exits non-zero with the
reason on stderr.
"""

import json
import os
import subprocess
import sys

SCIPY = "1.16.3"
NUMPY = "2.4.6"
VENV = os.environ.get("AVIARY_JUDGE_VENV", os.path.expanduser("~/.cache/aviary/venv-judge"))
MARKER = "AVIARY_JUDGE_IN_VENV"


def fail(message):
    print(f"reference.py: {message}", file=sys.stderr)
    sys.exit(2)


def ensure_venv():
    """Re-executes this script with the virtualenv's python, creating it when needed."""
    python = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, "aviary-judge-versions")
    want = f"scipy=={SCIPY} numpy=={NUMPY}"
    try:
        with open(stamp) as f:
            ready = f.read().strip() == want and os.path.exists(python)
    except OSError:
        ready = False
    if not ready:
        print(f"reference.py: installing {want} into {VENV}", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
            subprocess.run(
                [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *want.split()],
                check=True,
            )
        except (OSError, subprocess.CalledProcessError) as e:
            fail(f"cannot create the virtualenv {VENV} with {want} ({e}); python3-venv and network access to PyPI are needed")
        with open(stamp, "w") as f:
            f.write(want + "\n")
    os.environ[MARKER] = "1"
    os.execv(python, [python, *sys.argv])


def gaps(d):
    """Shifts inside each gap of the sorted distinct differences d, below and above them too."""
    import numpy as np

    span = max(1.0, float(d[-1] - d[0]))
    return np.concatenate(([d[0] - span], (d[:-1] + d[1:]) / 2, [d[-1] + span]))


def crossing(above, below, d):
    """Where a decreasing step function crosses a level, from the gaps (see `gaps`) where it is
    above and those where it is below: gap 0 is below d[0], gap k (1 <= k < len(d)) is
    (d[k-1], d[k]), gap len(d) above d[-1]. The crossing spans from the right edge of the last
    gap above to the left edge of the first gap below (a single difference when those gaps are
    adjacent), clamped to [d[0], d[-1]] as Kayenta clamps its search."""
    import numpy as np

    last_above = np.flatnonzero(above)
    first_below = np.flatnonzero(below)
    lower = d[0] if len(last_above) == 0 else d[min(int(last_above[-1]), len(d) - 1)]
    upper = d[-1] if len(first_below) == 0 else d[max(int(first_below[0]) - 1, 0)]
    if lower > upper:
        fail("the statistic is not decreasing in the shift")
    return float(lower), float(upper)


def reference(case, confidence, tolerance):
    import numpy as np
    from scipy.stats import mannwhitneyu

    x = np.asarray(case["canary"], dtype=float)
    y = np.asarray(case["baseline"], dtype=float)
    test = mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    d = np.unique(np.subtract.outer(x, y).ravel())
    shifts = gaps(d)
    shifted = mannwhitneyu(
        x[None, :] - shifts[:, None], y[None, :], axis=1, alternative="two-sided", method="asymptotic", use_continuity=True
    )
    # SciPy's statistic is U of the first sample; U - nx ny / 2 is the signed distance from the
    # null's mean (Kayenta's dz), whose sign says on which side a rejection is.
    p, dz = shifted.pvalue, shifted.statistic - len(x) * len(y) / 2.0
    alpha = 1.0 - confidence
    # Lower bound: where the test stops rejecting "the canary is larger"; upper bound: where it
    # starts rejecting "the canary is smaller". The estimate: where dz, continuity-corrected,
    # crosses zero (|dz| <= 1/2 is a p-value of 1).
    lower, _ = crossing((p < alpha) & (dz > 0), (p >= alpha) | (dz < 0), d)
    _, upper = crossing((p >= alpha) | (dz > 0), (p < alpha) & (dz < 0), d)
    estimate = crossing(dz > 0.5, dz < -0.5, d)

    # Kayenta's decision from the interval: High when the lower end exceeds tolerance * |estimate|
    # (Low: the upper end below -tolerance * |estimate|) and the mean ratio allows it (>= 1 for
    # High, <= 1 for Low, ignored when a mean is 0). The estimate is only known to lie in
    # `estimate`, and the judge's bounds to within the root finder's tolerance: undecided
    # (None) when that matters.
    margin = 2e-4
    lo_abs = 0.0 if estimate[0] <= 0.0 <= estimate[1] else min(abs(estimate[0]), abs(estimate[1]))
    hi_abs = max(abs(estimate[0]), abs(estimate[1]))
    mx, my = float(np.mean(x)), float(np.mean(y))
    ratio = float("nan") if mx == 0.0 or my == 0.0 else mx / my

    def side(end, sign):
        # sign +1: is `end` above tolerance*|est|; -1: is it below -tolerance*|est|.
        if sign * end > tolerance * hi_abs + margin:
            return True
        if sign * end <= tolerance * lo_abs - margin:
            return False
        return None

    high = side(lower, 1)
    low = side(upper, -1)
    if high is True and not (np.isnan(ratio) or ratio >= 1.0):
        high = False
    if low is True and not (np.isnan(ratio) or ratio <= 1.0):
        low = False

    def label(up, down):
        h = high if up else False
        lo = low if down else False
        if h is None or (h is False and lo is None):
            return None
        return "High" if h else ("Low" if lo else "Pass")

    return {
        "name": case["name"],
        "u": float(test.statistic),
        "p_value": float(test.pvalue),
        "confidence": confidence,
        "lower": lower,
        "upper": upper,
        "estimate_range": list(estimate),
        "mean_ratio": ratio,
        "labels": {
            "either": label(True, True),
            "increase": label(True, False),
            "decrease": label(False, True),
        },
    }


def kayenta_score(scoring, labels):
    """WeightedSumScorer.calculateSummaryScore for labels of Pass/High/Low (no critical, no data)."""
    groups = {}
    for name, metric in scoring["metrics"].items():
        for g in metric.get("groups", [name]):
            groups.setdefault(g, []).append(labels[name])
    weights = scoring.get("groupWeights", {})
    unweighted = [g for g in groups if g not in weights]
    shared = (100.0 - sum(weights.values())) / len(unweighted) if unweighted else 0.0
    total = 0.0
    for g, ls in groups.items():
        score = 100.0 * sum(1 for l in ls if l == "Pass") / len(ls)
        total += score * weights.get(g, shared) / 100.0
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def main():
    if len(sys.argv) != 3:
        fail("usage: reference.py CASES_JSON OUT_JSON")
    if os.environ.get(MARKER) != "1":
        ensure_venv()
    import numpy
    import scipy

    if scipy.__version__ != SCIPY:
        fail(f"expected SciPy {SCIPY}, found {scipy.__version__} in {sys.executable}")
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    confidence, tolerance = doc["confidence"], doc["tolerance"]
    cases = [reference(c, c.get("confidence", confidence), tolerance) for c in doc["cases"]]
    by_name = {c["name"]: c for c in cases}
    scoring = doc["scoring"]
    labels = {}
    for name, metric in scoring["metrics"].items():
        label = by_name[metric["case"]]["labels"][metric["direction"]]
        if label is None:
            fail(f"scoring: the label of {name} ({metric['case']}, {metric['direction']}) is undecided; pick another case")
        labels[name] = label
    out = {
        "scipy": scipy.__version__,
        "numpy": numpy.__version__,
        "tolerance": tolerance,
        "cases": cases,
        "scoring": {**scoring, "labels": labels, "score": kayenta_score(scoring, labels)},
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=1, allow_nan=True)


if __name__ == "__main__":
    main()
