#!/usr/bin/env python3
"""Writes tests/fixtures/reference.json: reference numbers for cxray-stats from trusted
implementations (scipy, statsmodels, lifelines, ipfn). The Rust tests compare against it.

    pip install numpy scipy statsmodels lifelines pandas ipfn
    python3 crates/cxray-stats/reference/make_reference.py

Each section names the implementation that produced its numbers. Numbers from R packages that
cannot be installed from PyPI (relaimpo, survey, qcc, DasGuptR, NPS) are in
tests/fixtures/r_reference.json, copied from runs of those packages with the source named there.
Where a section is computed from a formula rather than a package, it says so: those check
arithmetic, and each formula is cross-checked against a package on at least one case in
r_reference.json.
"""
import json
import math
import os
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
import statsmodels
import lifelines
from scipy import optimize, stats
from statsmodels.stats.proportion import (proportion_confint, proportions_ztest,
                                          confint_proportions_2indep)
from statsmodels.stats.multitest import multipletests
import statsmodels.api as sm

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "reference.json")
rng = np.random.default_rng(20261124)


def f(x):
    """JSON-safe float (None for nan/inf)."""
    x = float(x)
    return x if math.isfinite(x) else None


out = {"generated_by": "crates/cxray-stats/reference/make_reference.py",
       "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                    "scipy": scipy.__version__, "statsmodels": statsmodels.__version__,
                    "lifelines": lifelines.__version__, "pandas": pd.__version__}}

# ---------------------------------------------------------------- NPS
# Formulas (Rocks 2016); the score interval solves Tango's score equation with the restricted
# MLE found by numerical maximisation (scipy.optimize), independently of the closed form in Rust.


def nps_parts(d, pa, pr):
    n = d + pa + pr
    pp, pd_ = pr / n, d / n
    return n, pp - pd_, pp + pd_ - (pp - pd_) ** 2


def restricted_var(d, pa, pr, delta):
    n = d + pa + pr
    lo, hi = max(0.0, -delta), (1 - delta) / 2
    if hi - lo < 1e-15:
        x = lo
    else:
        def negll(x):
            pP, pD, pA = x + delta, x, 1 - 2 * x - delta
            s = 0.0
            for c, p in ((pr, pP), (d, pD), (pa, pA)):
                if c > 0:
                    s += c * math.log(max(p, 1e-300))
            return -s
        r = optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded",
                                     options={"xatol": 1e-14})
        x = r.x
    return max(0.0, 2 * x + delta - delta ** 2)


def score_interval(d, pa, pr, conf):
    n, est, _ = nps_parts(d, pa, pr)
    z = stats.norm.ppf(1 - (1 - conf) / 2)

    def g(delta, target):
        v = restricted_var(d, pa, pr, delta)
        if v <= 0:
            return math.copysign(1e300, est - delta) - target if est != delta else -target
        return (est - delta) / math.sqrt(v / n) - target
    lo = -1.0 if (est <= -1 or g(-1 + 1e-12, z) <= 0) else optimize.brentq(g, -1 + 1e-12, est, args=(z,), xtol=1e-14)
    hi = 1.0 if (est >= 1 or g(1 - 1e-12, -z) >= 0) else optimize.brentq(g, est, 1 - 1e-12, args=(-z,), xtol=1e-14)
    return lo, hi


nps_cases = []
for (d, pa, pr, conf) in [(20, 30, 50, .95), (30, 35, 35, .95), (2, 3, 5, .95), (0, 0, 10, .95),
                          (10, 0, 0, .95), (0, 1, 0, .95), (0, 0, 1, .95), (1, 0, 0, .95),
                          (5, 90, 5, .95), (100, 200, 700, .95), (20, 30, 50, .90),
                          (3, 1, 1, .99), (412, 388, 1200, .95)]:
    n, est, var = nps_parts(d, pa, pr)
    z = stats.norm.ppf(1 - (1 - conf) / 2)
    se = math.sqrt(var / n)
    na, esta, vara = nps_parts(d + .75, pa + 1.5, pr + .75)
    sea = math.sqrt(vara / na)
    clip = lambda a, b: [100 * max(-1, min(1, a)), 100 * max(-1, min(1, b))]
    nps_cases.append({"counts": [d, pa, pr], "confidence": conf, "value": 100 * est,
                      "se": 100 * se, "wald": clip(est - z * se, est + z * se),
                      "adjusted_wald": clip(esta - z * sea, esta + z * sea),
                      "score": clip(*score_interval(d, pa, pr, conf))})
out["nps"] = {"source": "formulas (numpy/scipy); score interval by scipy.optimize on Tango's equation",
              "cases": nps_cases}

nps_diff = []
for a, b in [((20, 30, 50), (30, 35, 35)), ((2, 3, 5), (5, 3, 2)), ((100, 200, 700), (120, 180, 700)),
             ((0, 0, 10), (1, 2, 7)), ((50, 50, 50), (50, 50, 50))]:
    for label, adj in (("wald", (0, 0, 0)), ("adjusted_wald", (.75, 1.5, .75))):
        nA, eA, vA = nps_parts(*(x + y for x, y in zip(a, adj)))
        nB, eB, vB = nps_parts(*(x + y for x, y in zip(b, adj)))
        se = math.sqrt(vA / nA + vB / nB)
        z = (eA - eB) / se
        q = stats.norm.ppf(0.975)
        nps_diff.append({"a": list(a), "b": list(b), "method": label, "difference": 100 * (eA - eB),
                         "se": 100 * se, "z": z, "p": 2 * stats.norm.sf(abs(z)),
                         "ci": [100 * (eA - eB - q * se), 100 * (eA - eB + q * se)]})
out["nps_difference"] = {"source": "formulas (scipy.stats.norm)", "cases": nps_diff}

z95 = stats.norm.ppf(0.975)
out["nps_sample_size"] = {
    "source": "formulas (scipy.stats.norm)",
    "margin": [{"variance": v, "margin_points": m, "confidence": 0.95,
                "n": int(math.ceil(z95 * z95 * v / (m / 100) ** 2))}
               for v, m in [(0.61, 5), (0.61, 10), (1.0, 5), (0.5, 5), (0.61, 2)]],
    "per_group": [{"variance": v, "difference_points": dd, "confidence": 0.95, "power": pw,
                   "n": int(math.ceil((z95 + stats.norm.ppf(pw)) ** 2 * 2 * v / (dd / 100) ** 2))}
                  for v, dd, pw in [(0.61, 10, .8), (0.61, 5, .8), (0.61, 10, .9), (1.0, 20, .8), (0.4, 3, .95)]],
}

# ---------------------------------------------------------------- proportions
props = []
methods = {"wilson": "wilson", "agresti_coull": "agresti_coull", "clopper_pearson": "beta",
           "jeffreys": "jeffreys", "wald": "normal"}
for k, n, conf in [(0, 1, .95), (1, 1, .95), (0, 5, .95), (5, 5, .95), (7, 10, .95), (9, 10, .95),
                   (18, 20, .95), (65, 100, .95), (1, 1000, .95), (999, 1000, .95), (500, 1000, .95),
                   (3, 7, .90), (65, 100, .99), (12345, 20000, .95)]:
    row = {"k": k, "n": n, "confidence": conf}
    for ours, theirs in methods.items():
        lo, hi = proportion_confint(k, n, alpha=1 - conf, method=theirs)
        row[ours] = [f(max(0.0, lo)), f(min(1.0, hi))]
    props.append(row)
out["proportion"] = {"source": "statsmodels.stats.proportion.proportion_confint (clipped to [0,1])",
                     "cases": props}

two = []
for k1, n1, k2, n2 in [(650, 1000, 610, 1000), (7, 10, 3, 10), (50, 60, 40, 80), (1, 20, 0, 25),
                       (100, 100, 95, 100), (30, 400, 45, 410)]:
    zstat, p = proportions_ztest([k1, k2], [n1, n2])
    w = confint_proportions_2indep(k1, n1, k2, n2, method="wald", compare="diff")
    nc = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    two.append({"a": [k1, n1], "b": [k2, n2], "z": f(zstat), "p": f(p),
                "wald_ci": [f(w[0]), f(w[1])], "newcombe_ci": [f(nc[0]), f(nc[1])]})
out["two_proportion"] = {"source": "statsmodels proportions_ztest (pooled) and confint_proportions_2indep",
                         "cases": two}

# ---------------------------------------------------------------- means
means = []
hists = [("csat", [1, 2, 3, 4, 5], [5, 10, 20, 40, 25]), ("ces7", list(range(1, 8)), [2, 3, 5, 10, 20, 35, 25]),
         ("two", [1, 5], [1, 1]), ("stars_small", [3, 4, 5], [1, 0, 2]), ("constant", [4], [12]),
         ("big", [1, 2, 3, 4, 5], [1200, 800, 3000, 9000, 6000])]
for name, vals, cnts in hists:
    x = np.repeat(np.array(vals, float), cnts)
    n = len(x)
    sd = x.std(ddof=1)
    se = sd / math.sqrt(n)
    lo, hi = (x.mean(), x.mean()) if se == 0 else stats.t.interval(0.95, n - 1, loc=x.mean(), scale=se)
    means.append({"name": name, "values": vals, "counts": cnts, "mean": x.mean(), "sd": sd, "se": se,
                  "ci95": [lo, hi]})
for name, size, loc, scale in [("handle_time", 37, 420.0, 130.0), ("frt", 250, 30.0, 12.0)]:
    x = np.round(rng.normal(loc, scale, size), 3)
    se = x.std(ddof=1) / math.sqrt(size)
    lo, hi = stats.t.interval(0.90, size - 1, loc=x.mean(), scale=se)
    means.append({"name": name, "raw": x.tolist(), "mean": x.mean(), "sd": x.std(ddof=1), "se": se,
                  "ci90": [lo, hi]})
out["mean"] = {"source": "numpy + scipy.stats.t.interval", "cases": means}

welch = []
for a, b in [((3.7, 1.1055415967851332, 100), (3.4, 1.3, 80)), ((5.48, 1.4247, 100), (5.1, 0.9, 12)),
             ((420.0, 130.0, 37), (455.0, 160.0, 41)), ((4.0, 0.5, 2), (4.5, 0.7, 3)), ((1.0, 1.0, 5000), (1.02, 1.0, 5000))]:
    r = stats.ttest_ind_from_stats(a[0], a[1], a[2], b[0], b[1], b[2], equal_var=False)
    va, vb = a[1] ** 2 / a[2], b[1] ** 2 / b[2]
    df = (va + vb) ** 2 / (va ** 2 / (a[2] - 1) + vb ** 2 / (b[2] - 1))
    q = stats.t.ppf(0.975, df)
    d = a[0] - b[0]
    se = math.sqrt(va + vb)
    welch.append({"a": list(a), "b": list(b), "t": r.statistic, "p": r.pvalue, "df": df,
                  "ci95": [d - q * se, d + q * se]})
out["welch"] = {"source": "scipy.stats.ttest_ind_from_stats(equal_var=False); df and CI by Welch-Satterthwaite",
                "cases": welch}

# ---------------------------------------------------------------- weighted
weighted = []
for name, size in [("w1", 60), ("w2", 500), ("w3", 7), ("w4", 2), ("w5", 3000)]:
    y = rng.integers(0, 11, size)
    w = np.round(rng.gamma(2.0, 1.5, size), 4) + 0.05
    cat = np.where(y >= 9, 1.0, np.where(y <= 6, -1.0, 0.0))
    est = np.sum(w * cat) / w.sum()
    n = size
    se = math.sqrt(n / (n - 1) * np.sum((w * (cat - est)) ** 2) / w.sum() ** 2)
    levels = [{"value": v, "count": int(np.sum(cat == v)), "sum_w": float(np.sum(w[cat == v])),
               "sum_w2": float(np.sum(w[cat == v] ** 2))} for v in (-1.0, 0.0, 1.0)]
    weighted.append({"name": name, "levels": levels, "mean": est, "se": se,
                     "n_effective": w.sum() ** 2 / np.sum(w ** 2)})
out["weighted"] = {"source": "formula of R survey::svymean (ids=~1) in numpy; R itself checked in r_reference.json raking",
                   "cases": weighted}

# ---------------------------------------------------------------- raking (ipfn)
from ipfn.ipfn import ipfn as IPF
rk = []
sample = pd.DataFrame([(a, r) for a, r, cnt in [("18-34", "N", 30), ("18-34", "S", 20), ("35-54", "N", 40),
                                                   ("35-54", "S", 30), ("55+", "N", 50), ("55+", "S", 30)]
                       for _ in range(cnt)], columns=["age", "region"])
cases = [("survey_sample", [["18-34", "35-54", "55+"], ["N", "S"]],
          [[30, 20], [40, 30], [50, 30]], [[4000, 3500, 2500], [5000, 5000]])]
cases.append(("three_by_three", [["a", "b", "c"], ["x", "y", "z"]],
              [[10, 5, 1], [3, 8, 4], [2, 2, 9]], [[30, 40, 30], [50, 25, 25]]))
cases.append(("skewed", [["young", "old"], ["web", "app", "shop"]],
              [[80, 15, 5], [10, 20, 70]], [[0.5, 0.5], [0.2, 0.3, 0.5]]))
for name, labels, table, targets in cases:
    seed = np.array(table, float)
    fitted = IPF(seed.copy(), [np.array(t, float) for t in targets], [[0], [1]],
                 convergence_rate=1e-14, max_iteration=5000).iteration()
    rk.append({"name": name, "labels": labels, "counts": table, "targets": targets,
               "cell_weights": fitted.tolist()})
three = np.array([[[5, 3], [2, 4]], [[6, 1], [3, 7]]], float)
fitted3 = IPF(three.copy(), [np.array([60., 40.]), np.array([45., 55.]), np.array([70., 30.])],
              [[0], [1], [2]], convergence_rate=1e-14, max_iteration=5000).iteration()
rk.append({"name": "three_margins", "labels": [["a", "b"], ["x", "y"], ["u", "v"]], "counts": three.tolist(),
           "targets": [[60, 40], [45, 55], [70, 30]], "cell_weights": fitted3.tolist()})
out["raking"] = {"source": "ipfn 1.4 (IPF) at convergence_rate 1e-14", "cases": rk}

# ---------------------------------------------------------------- multiple comparisons
mc = []
for pv in [[0.001, 0.008, 0.039, 0.041, 0.042, 0.060, 0.074, 0.205, 0.212, 0.360], [0.04],
           [0.5, 0.01, 0.01, 0.03, 1.0], [1.0, 1.0, 1.0], [0.0001, 0.2, 0.049, 0.7, 0.0125, 0.033]]:
    row = {"p": pv}
    for ours, theirs in [("benjamini_hochberg", "fdr_bh"), ("benjamini_yekutieli", "fdr_by"),
                         ("holm", "holm"), ("bonferroni", "bonferroni")]:
        row[ours] = multipletests(pv, method=theirs)[1].tolist()
    mc.append(row)
out["multiple"] = {"source": "statsmodels.stats.multitest.multipletests", "cases": mc}

# ---------------------------------------------------------------- quantiles
qs = []
for vals in [[2, 3, 3, 5, 8, 13, 21, 34, 55, 240], [7], [1, 2], rng.exponential(30, 101).round(2).tolist(),
             [5, 5, 5, 5]]:
    levels = [0, 0.1, 0.25, 0.5, 0.9, 0.99, 1]
    qs.append({"values": vals, "levels": levels,
               "quantiles": np.percentile(np.array(vals, float), [100 * q for q in levels], method="linear").tolist()})
out["quantile"] = {"source": "numpy.percentile(method='linear') (= R type 7)", "cases": qs}

# ---------------------------------------------------------------- survival (lifelines)
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
A_t = [1, 2, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 12, 12, 12]; A_e = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0]
B_t = [1, 1, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12]; B_e = [1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0]
C_t = rng.integers(1, 25, 60).tolist(); C_e = (rng.random(60) < 0.6).astype(int).tolist()
km_sets = [("A", A_t, A_e), ("B", B_t, B_e), ("C", C_t, C_e), ("all_censored", [3, 5, 7], [0, 0, 0]),
           ("single_event", [4], [1]), ("ties", [2, 2, 2, 3, 3, 5], [1, 0, 1, 1, 1, 0]),
           ("all_die", [1, 2, 2, 3], [1, 1, 1, 1])]
kms = []
for name, t, e in km_sets:
    kmf = KaplanMeierFitter().fit(t, e)
    sf = kmf.survival_function_
    ci = kmf.confidence_interval_survival_function_
    times = [float(x) for x in sf.index if x > 0]
    med = kmf.median_survival_time_
    kms.append({"name": name, "durations": t, "events": e, "times": times,
                "survival": [f(sf.loc[x].iloc[0]) for x in times],
                "lower": [f(ci.loc[x].iloc[0]) for x in times],
                "upper": [f(ci.loc[x].iloc[1]) for x in times],
                "median": f(med)})
lr = []
for (n1, t1, e1), (n2, t2, e2) in [(km_sets[0], km_sets[1]), (km_sets[0], km_sets[2]), (km_sets[5], km_sets[6]),
                                   (km_sets[1], km_sets[2]), (km_sets[2], km_sets[5]), (km_sets[3], km_sets[0])]:
    r = logrank_test(t1, t2, event_observed_A=e1, event_observed_B=e2)
    lr.append({"groups": [n1, n2], "chi2": r.test_statistic, "p": r.p_value, "df": 1})
tt = A_t + B_t + C_t; ee = A_e + B_e + C_e; gg = ["A"] * 15 + ["B"] * 15 + ["C"] * 60
r3 = multivariate_logrank_test(tt, gg, ee)
lr.append({"groups": ["A", "B", "C"], "chi2": r3.test_statistic, "p": r3.p_value, "df": 2})
out["kaplan_meier"] = {"source": "lifelines KaplanMeierFitter (exponential Greenwood = log-log CI, 95%)", "cases": kms}
out["log_rank"] = {"source": "lifelines logrank_test / multivariate_logrank_test", "cases": lr}

# ---------------------------------------------------------------- regression (statsmodels)
import itertools


def shapley_r2(X, y):
    k = X.shape[1]

    def r2(cols):
        if not cols:
            return 0.0
        return sm.OLS(y, sm.add_constant(X[:, sorted(cols)])).fit().rsquared
    out = []
    for j in range(k):
        others = [i for i in range(k) if i != j]
        tot = 0.0
        for s_ in range(k):
            for S in itertools.combinations(others, s_):
                w = math.factorial(s_) * math.factorial(k - s_ - 1) / math.factorial(k)
                tot += w * (r2(set(S) | {j}) - r2(set(S)))
        out.append(tot)
    return out


def johnson(X, y):
    k = X.shape[1]
    R = np.corrcoef(np.column_stack([X, y]), rowvar=False)
    ev, V = np.linalg.eigh(R[:k, :k])
    Lam = V @ np.diag(np.sqrt(ev)) @ V.T
    beta = np.linalg.solve(Lam, R[:k, k])
    return ((Lam ** 2) @ (beta ** 2)).tolist()


ols_cases = []
for n, k, noise in [(300, 3, 1.2), (40, 2, 0.5), (1000, 6, 2.0), (12, 4, 1.0), (500, 8, 0.8)]:
    X = rng.normal(size=(n, k))
    if k > 1:
        X[:, 1] = 0.6 * X[:, 0] + 0.8 * X[:, 1]
    coef = rng.normal(size=k).round(2)
    y = 2.0 + X @ coef + rng.normal(scale=noise, size=n)
    X = X.round(6); y = y.round(6)
    fit = sm.OLS(y, sm.add_constant(X)).fit()
    ols_cases.append({"x": X.tolist(), "y": y.tolist(), "params": fit.params.tolist(), "bse": fit.bse.tolist(),
                      "r_squared": fit.rsquared, "shapley": shapley_r2(X, y), "johnson": johnson(X, y)})
out["ols"] = {"source": "statsmodels OLS; Shapley by all-subsets statsmodels R2; Johnson (2000) in numpy",
              "cases": ols_cases}

logit_cases = []
for m, k, b0 in [(400, 2, -0.4), (150, 1, 0.3), (2000, 4, -1.5), (60, 2, 0.0), (800, 3, 1.0)]:
    Z = rng.normal(size=(m, k)).round(5)
    eta = b0 + Z @ rng.normal(scale=0.8, size=k)
    yb = (rng.random(m) < 1 / (1 + np.exp(-eta))).astype(int)
    lg = sm.Logit(yb, sm.add_constant(Z)).fit(disp=0, tol=1e-12, maxiter=200)
    logit_cases.append({"x": Z.tolist(), "y": yb.tolist(), "params": lg.params.tolist(), "bse": lg.bse.tolist(),
                        "llf": lg.llf, "llnull": lg.llnull, "prsquared": lg.prsquared, "llr_pvalue": lg.llr_pvalue})
out["logistic"] = {"source": "statsmodels Logit (tol 1e-12)", "cases": logit_cases}

# grouped binomial: churn by NPS category (the linkage example of 05b_linkage in ../shared/reference)
grp = pd.DataFrame({"det": [0, 1, 0], "pas": [0, 0, 1], "events": [20, 35, 27], "n": [200, 100, 150]})
glm = sm.GLM(np.column_stack([grp.events, grp.n - grp.events]), sm.add_constant(grp[["det", "pas"]]),
             family=sm.families.Binomial()).fit()
out["logistic_grouped"] = {"source": "statsmodels GLM Binomial on grouped counts",
                           "rows": grp.to_dict("records"), "params": glm.params.tolist(), "bse": glm.bse.tolist()}

# ---------------------------------------------------------------- control charts (formulas)
# The formulas of qcc 2.7 (p, xbar.one, ewma, cusum), checked against qcc itself on the series in
# r_reference.json; here applied to more series.
ctl = []
series_list = [[32, 30, 35, 31, 33, 29, 34, 31, 24, 22, 25, 21], [50, 52, 49, 51, 50, 48, 53, 60, 61, 62],
               rng.normal(40, 3, 24).round(1).tolist(), [10, 10.5, 9.5, 10, 10.2, 9.8, 14, 6],
               rng.normal(-5, 8, 15).round(1).tolist()]
for series in series_list:
    x = np.array(series, float); ph = x[:max(2, len(x) * 2 // 3)]
    center = ph.mean(); sd = np.mean(np.abs(np.diff(ph))) / 1.128
    lam, L = 0.2, 3; zz = center; ew = []
    for i, v in enumerate(x, 1):
        zz = lam * v + (1 - lam) * zz
        w = L * sd * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * i)))
        ew.append([zz, center - w, center + w])
    cp = cn = 0.0; pos = []; neg = []
    for v in x:
        zi = (v - center) / sd; cp = max(0, cp + zi - 0.5); cn = min(0, cn + zi + 0.5); pos.append(cp); neg.append(cn)
    ctl.append({"series": series, "phase1": len(ph), "center": center, "sigma": sd, "ewma": ew,
                "cusum_pos": pos, "cusum_neg": neg})
pch = []
for _ in range(5):
    nn = rng.integers(20, 400, 10); pp = rng.uniform(0.2, 0.9); xx = rng.binomial(nn, pp)
    pbar = xx.sum() / nn.sum(); se = np.sqrt(pbar * (1 - pbar) / nn)
    pch.append({"x": xx.tolist(), "n": nn.tolist(), "center": pbar,
                "lcl": np.maximum(0, pbar - 3 * se).tolist(), "ucl": np.minimum(1, pbar + 3 * se).tolist()})
out["control"] = {"source": "qcc 2.7 formulas in numpy", "individuals": ctl, "p_chart": pch}

# ---------------------------------------------------------------- mix / rate (formula)
mr = []
for k in [3, 5, 2, 8, 4]:
    n1 = rng.integers(0, 500, k).astype(float); n2 = rng.integers(0, 500, k).astype(float)
    n1[0] = max(n1[0], 1); n2[0] = max(n2[0], 1)
    r1 = rng.uniform(-60, 80, k); r2 = r1 + rng.normal(0, 10, k)
    w1 = n1 / n1.sum(); w2 = n2 / n2.sum()
    mr.append({"size_before": n1.tolist(), "rate_before": r1.tolist(), "size_after": n2.tolist(), "rate_after": r2.tolist(),
               "before": float(w1 @ r1), "after": float(w2 @ r2),
               "mix": ((w2 - w1) * (r1 + r2) / 2).tolist(), "rate": ((r2 - r1) * (w1 + w2) / 2).tolist()})
out["mix_rate"] = {"source": "symmetric Kitagawa (1955) formula in numpy (== DasGuptR on r_reference.json)", "cases": mr}

# ---------------------------------------------------------------- quantile intervals
# Distribution-free (order-statistic) interval of a quantile. With x = 0..n-1 the bounds scipy
# returns are the 0-based ranks of the order statistics; null where scipy gives nan (the bound
# falls outside the sample).
qci = []
for n, p, conf in [(10, 0.5, 0.95), (20, 0.5, 0.95), (101, 0.9, 0.95), (1000, 0.5, 0.9), (1000, 0.9, 0.95),
                   (5, 0.9, 0.95), (3, 0.5, 0.95), (250_000, 0.9, 0.99), (37, 0.25, 0.8)]:
    ci = stats.quantile_test(np.arange(n, dtype=float), q=0, p=p).confidence_interval(conf)
    qci.append({"n": n, "p": p, "confidence": conf,
                "low_rank": None if np.isnan(ci.low) else int(ci.low),
                "high_rank": None if np.isnan(ci.high) else int(ci.high)})
out["quantile_interval"] = {"source": "scipy.stats.quantile_test(...).confidence_interval (exact binomial)",
                            "cases": qci}

with open(OUT, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", os.path.relpath(OUT))
