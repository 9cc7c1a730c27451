"""XGBoost 1.7 reference fixtures for tests/Tessera.Trees.Tests.

Writes small train/test CSV files (with a header) and, per case, XGBoost's test-set predictions and metrics
for the same parameters (tree_method=hist) to tests/fixtures/trees/. Deterministic: fixed numpy seeds, and
XGBoost hist without subsampling is deterministic.

    /usr/bin/python3 tools/trees/make_trees_fixtures.py      # needs python3-xgboost, python3-sklearn (apt)
"""
import json
import os

import numpy as np
import sklearn
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "trees")


def write_csv(name, x, y, columns, label="target", categorical=()):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write(",".join(list(columns) + [label]) + "\n")
        for row, t in zip(x, y):
            cells = []
            for j, v in enumerate(row):
                if np.isnan(v):
                    cells.append("")
                elif columns[j] in categorical:
                    cells.append("c%d" % int(v))
                else:
                    cells.append(repr(float(np.float32(v))))
            cells.append(repr(float(t)) if not float(t).is_integer() else str(int(t)))
            f.write(",".join(cells) + "\n")
    return name


def split(n, n_train, seed=0):
    perm = np.random.RandomState(seed).permutation(n)
    return perm[:n_train], perm[n_train:]


def fit_predict(params, rounds, xtr, ytr, xte, yte, feature_types=None, early_stopping=None):
    base = {"tree_method": "hist", "nthread": 2, "seed": 0, "max_bin": 255}
    base.update(params)
    kw = {}
    if feature_types is not None:
        kw = {"feature_types": feature_types, "enable_categorical": True}
    dtr = xgb.DMatrix(xtr, label=ytr, **kw)
    dte = xgb.DMatrix(xte, label=yte, **kw)
    evals = [(dte, "valid")] if early_stopping else []
    booster = xgb.train(base, dtr, rounds, evals=evals, early_stopping_rounds=early_stopping, verbose_eval=False)
    if early_stopping:
        pred = booster.predict(dte, iteration_range=(0, booster.best_iteration + 1))
        return pred, booster.best_iteration
    return booster.predict(dte), None


def metrics(objective, pred, y):
    if objective == "binary:logistic":
        p = np.clip(pred, 1e-15, 1 - 1e-15)
        return {"accuracy": float(np.mean((pred > 0.5) == y)), "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}
    if objective == "multi:softprob":
        p = np.clip(pred[np.arange(len(y)), y.astype(int)], 1e-15, 1)
        return {"accuracy": float(np.mean(pred.argmax(1) == y)), "mlogloss": float(-np.mean(np.log(p)))}
    return {"rmse": float(np.sqrt(np.mean((pred - y) ** 2))), "mae": float(np.mean(np.abs(pred - y)))}


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []

    def case(name, train_csv, test_csv, params, rounds, xtr, ytr, xte, yte, label="target", feature_types=None,
             categorical=(), early_stopping=None):
        pred, best = fit_predict(params, rounds, xtr, ytr, xte, yte, feature_types, early_stopping)
        entry = {"name": name, "train": train_csv, "test": test_csv, "label": label, "rounds": rounds, "params": params,
                 "categorical": list(categorical), "predictions": np.asarray(pred, dtype=float).ravel().round(7).tolist(),
                 "metrics": metrics(params["objective"], pred, yte)}
        if early_stopping:
            entry["early_stopping_rounds"] = early_stopping
            entry["best_iteration"] = int(best)
        cases.append(entry)

    # breast_cancer: binary, 400 train / 169 test rows.
    bc = load_breast_cancer()
    cols = ["f%d" % i for i in range(bc.data.shape[1])]
    tr, te = split(len(bc.target), 400)
    x, y = bc.data.astype(np.float32), bc.target.astype(float)
    write_csv("breast_cancer_train.csv", x[tr], y[tr], cols)
    write_csv("breast_cancer_test.csv", x[te], y[te], cols)
    binary = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3}
    case("breast_cancer_depthwise", "breast_cancer_train.csv", "breast_cancer_test.csv", binary, 30, x[tr], y[tr], x[te], y[te])
    case("breast_cancer_regularized", "breast_cancer_train.csv", "breast_cancer_test.csv",
         {**binary, "reg_alpha": 1.0, "reg_lambda": 5.0, "min_child_weight": 3.0}, 30, x[tr], y[tr], x[te], y[te])
    case("breast_cancer_lossguide", "breast_cancer_train.csv", "breast_cancer_test.csv",
         {"objective": "binary:logistic", "grow_policy": "lossguide", "max_leaves": 8, "max_depth": 0, "eta": 0.3}, 30,
         x[tr], y[tr], x[te], y[te])
    case("breast_cancer_early_stopping", "breast_cancer_train.csv", "breast_cancer_test.csv",
         {"objective": "binary:logistic", "max_depth": 6, "eta": 0.5}, 300, x[tr], y[tr], x[te], y[te], early_stopping=10)

    # breast_cancer with 15% of feature cells missing.
    rng = np.random.RandomState(1)
    xm = x.copy()
    xm[rng.rand(*xm.shape) < 0.15] = np.nan
    write_csv("breast_cancer_missing_train.csv", xm[tr], y[tr], cols)
    write_csv("breast_cancer_missing_test.csv", xm[te], y[te], cols)
    case("breast_cancer_missing", "breast_cancer_missing_train.csv", "breast_cancer_missing_test.csv", binary, 30,
         xm[tr], y[tr], xm[te], y[te])

    # wine: 3 classes; every feature has fewer distinct values than max_bin, so the cuts match XGBoost's exactly.
    wine = load_wine()
    wcols = ["w%d" % i for i in range(wine.data.shape[1])]
    tr, te = split(len(wine.target), 120)
    x, y = wine.data.astype(np.float32), wine.target.astype(float)
    write_csv("wine_train.csv", x[tr], y[tr], wcols)
    write_csv("wine_test.csv", x[te], y[te], wcols)
    case("wine_softprob", "wine_train.csv", "wine_test.csv", {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3},
         20, x[tr], y[tr], x[te], y[te])

    # diabetes: regression objectives.
    d = load_diabetes()
    dcols = ["d%d" % i for i in range(d.data.shape[1])]
    tr, te = split(len(d.target), 320)
    x, y = d.data.astype(np.float32), d.target.astype(float)
    write_csv("diabetes_train.csv", x[tr], y[tr], dcols)
    write_csv("diabetes_test.csv", x[te], y[te], dcols)
    # XGBoost 1.7 does not apply eta to reg:absoluteerror's refitted leaves (Tessera does), so that case uses eta 1.
    for obj, extra in [("reg:squarederror", {"eta": 0.1}), ("reg:absoluteerror", {"eta": 1.0}),
                       ("reg:pseudohubererror", {"eta": 0.1, "huber_slope": 20.0})]:
        case("diabetes_" + obj.split(":")[1], "diabetes_train.csv", "diabetes_test.csv",
             {"objective": obj, "max_depth": 3, **extra}, 40 if extra["eta"] < 1 else 5, x[tr], y[tr], x[te], y[te])

    # Synthetic categorical data: 'color' (10 categories, some missing) drives the label together with two numeric columns.
    rng = np.random.RandomState(2)
    n = 800
    color = rng.randint(0, 10, n).astype(float)
    effect = np.array([2.0, -1.5, 0.5, -2.0, 1.0, 0.0, -0.5, 1.5, -1.0, 2.5])
    a, b = rng.randn(n), rng.randn(n)
    logit = effect[color.astype(int)] + a - 0.5 * b + 0.3 * rng.randn(n)
    yc = (logit > 0).astype(float)
    color[rng.rand(n) < 0.05] = np.nan
    xc = np.stack([color, a, b], 1).astype(np.float32)
    ccols = ["color", "a", "b"]
    write_csv("categorical_train.csv", xc[:600], yc[:600], ccols, categorical=("color",))
    write_csv("categorical_test.csv", xc[600:], yc[600:], ccols, categorical=("color",))
    for tag, onehot in [("partition", 1), ("onehot", 16)]:
        case("categorical_" + tag, "categorical_train.csv", "categorical_test.csv",
             {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "max_cat_to_onehot": onehot}, 20,
             xc[:600], yc[:600], xc[600:], yc[600:], feature_types=["c", "q", "q"], categorical=("color",))

    # sklearn random forests on the same splits (the forest tests compare accuracy / OOB / RMSE, not predictions).
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    forests = []
    for name, data, n_train in [("breast_cancer", load_breast_cancer(), 400), ("wine", load_wine(), 120)]:
        tr, te = split(len(data.target), n_train)
        x, y = data.data.astype(np.float32), data.target
        scores = []
        for seed in range(5):
            rf = RandomForestClassifier(n_estimators=100, random_state=seed, oob_score=True, n_jobs=2).fit(x[tr], y[tr])
            scores.append((rf.score(x[te], y[te]), rf.oob_score_))
        forests.append({"name": name, "train": name + "_train.csv", "test": name + "_test.csv", "task": "classification",
                        "trees": 100, "accuracy": float(np.mean([a for a, _ in scores])), "oob_score": float(np.mean([o for _, o in scores]))})
    d = load_diabetes()
    tr, te = split(len(d.target), 320)
    x, y = d.data.astype(np.float32), d.target
    rmses, oobs = [], []
    for seed in range(5):
        rf = RandomForestRegressor(n_estimators=100, random_state=seed, oob_score=True, n_jobs=2).fit(x[tr], y[tr])
        rmses.append(float(np.sqrt(np.mean((rf.predict(x[te]) - y[te]) ** 2))))
        oobs.append(rf.oob_score_)
    forests.append({"name": "diabetes", "train": "diabetes_train.csv", "test": "diabetes_test.csv", "task": "regression",
                    "trees": 100, "rmse": float(np.mean(rmses)), "oob_score": float(np.mean(oobs))})
    with open(os.path.join(OUT, "sklearn_forests.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "note": "means over random_state 0..4", "cases": forests}, f, indent=1)

    # The values XGBoost's trees split at on breast_cancer: each is one of its cut points (1.7 has no API that
    # returns the cuts themselves), so the binning test checks that every one is also a Tessera cut.
    split_values = {}
    for train_csv in ["breast_cancer_train.csv", "breast_cancer_missing_train.csv"]:
        data = np.genfromtxt(os.path.join(OUT, train_csv), delimiter=",", skip_header=1, dtype=np.float32)
        xs, ys = data[:, :-1], data[:, -1]
        booster = xgb.train({"tree_method": "hist", "nthread": 2, "seed": 0, "max_bin": 255, "objective": "binary:logistic",
                             "max_depth": 6, "eta": 0.3}, xgb.DMatrix(xs, label=ys), 100)
        found = {}
        def walk(node):
            if "split" in node:
                found.setdefault(node["split"], set()).add(float(np.float32(node["split_condition"])))
                for child in node["children"]:
                    walk(child)
        for tree in booster.get_dump(dump_format="json"):
            walk(json.loads(tree))
        split_values[train_csv] = {k: sorted(v) for k, v in sorted(found.items(), key=lambda kv: int(kv[0][1:]))}
    with open(os.path.join(OUT, "xgboost_split_values.json"), "w") as f:
        json.dump({"xgboost": xgb.__version__, "params": "binary:logistic, hist, max_bin 255, max_depth 6, eta 0.3, 100 rounds",
                   "files": split_values}, f, indent=1)

    with open(os.path.join(OUT, "xgboost_cases.json"), "w") as f:
        json.dump({"xgboost": xgb.__version__, "sklearn": sklearn.__version__, "cases": cases}, f, indent=1)
    print(f"{len(cases)} cases written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
