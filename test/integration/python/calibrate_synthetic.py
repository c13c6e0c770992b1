"""Calibration check of lib/ml/data/synthetic.ts (manual and slow: about 25 min on 2 busy cores; jest never runs it).

Usage, from the repository root:
  npx tsx -e "const d = require('./lib/ml/data'); d.writeCsv(d.generateTransactions(), '/tmp/synth42.csv')"
  .venv/bin/python test/integration/python/calibrate_synthetic.py /tmp/synth42.csv

Fits scikit-learn gradient boosting (two settings, each early-stopped on validation PR-AUC) and a
logistic regression on a stratified 70/15/15 split; prints validation and test PR-AUC (average
precision) and ROC-AUC. The boosting setting with the best validation PR-AUC is the "tuned" model.
"""
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

df = pd.read_csv(sys.argv[1])
X = df.drop(columns=["Class"]).to_numpy(np.float32)
y = df["Class"].to_numpy()
X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.3, stratify=y, random_state=42)
X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=42)
print(f"rows {len(y)} frauds {y.sum()} (train {y_train.sum()}, val {y_val.sum()}, test {y_test.sum()})", flush=True)


def boosted(name, step, max_iter, **params):
    """Warm-started boosting, early-stopped on validation PR-AUC checked every `step` rounds."""
    start = time.time()
    model = HistGradientBoostingClassifier(random_state=0, early_stopping=False, warm_start=True, **params)
    best_val, best_rounds, best_test_scores, stall = -1.0, 0, None, 0
    for rounds in range(step, max_iter + 1, step):
        model.set_params(max_iter=rounds)
        model.fit(X_train, y_train)
        val = average_precision_score(y_val, model.predict_proba(X_val)[:, 1])
        if val > best_val:
            best_val, best_rounds, best_test_scores, stall = val, rounds, model.predict_proba(X_test)[:, 1], 0
        else:
            stall += 1
            if stall >= 2:
                break
    test = average_precision_score(y_test, best_test_scores)
    print(
        f"{name} {params} rounds {best_rounds}: val AP {best_val:.3f} | test AP {test:.3f} "
        f"ROC-AUC {roc_auc_score(y_test, best_test_scores):.4f} ({time.time() - start:.0f} s)",
        flush=True,
    )
    return best_val, test


results = [
    boosted("HGB", 100, 1200, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20, l2_regularization=1.0),
    boosted("XGBoost-like", 100, 1200, learning_rate=0.1, max_depth=6, max_leaf_nodes=None, min_samples_leaf=1, l2_regularization=1.0),
]
val, test = max(results)
print(f"TUNED (best on validation): val AP {val:.3f} test AP {test:.3f}", flush=True)

scaler = StandardScaler().fit(X_train)
for class_weight in (None, "balanced"):
    lr = LogisticRegression(max_iter=3000, class_weight=class_weight).fit(scaler.transform(X_train), y_train)
    val_scores = lr.predict_proba(scaler.transform(X_val))[:, 1]
    test_scores = lr.predict_proba(scaler.transform(X_test))[:, 1]
    print(
        f"LogisticRegression class_weight={class_weight}: val AP {average_precision_score(y_val, val_scores):.3f} | "
        f"test AP {average_precision_score(y_test, test_scores):.3f} ROC-AUC {roc_auc_score(y_test, test_scores):.4f}",
        flush=True,
    )
