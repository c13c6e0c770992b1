"""Reference metrics from scikit-learn for test/integration/ml-metrics-sklearn.test.ts.

Usage: python sklearn_metrics.py <scores.csv> '<json list of thresholds>'
The CSV has a header `label,score`. Prints one JSON object on stdout.
"""
import json
import sys

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    fbeta_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)


def main() -> None:
    data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, dtype=np.float64)
    y = data[:, 0].astype(int)
    s = data[:, 1]
    thresholds = json.loads(sys.argv[2])

    at = []
    for t in thresholds:
        pred = (s >= t).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        at.append(
            {
                "threshold": t,
                "precision": precision_score(y, pred, zero_division=0),
                "recall": recall_score(y, pred, zero_division=0),
                "f1": f1_score(y, pred, zero_division=0),
                "f2": fbeta_score(y, pred, beta=2, zero_division=0),
                "confusion": {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)},
            }
        )

    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    precision, recall, pr_thresholds = precision_recall_curve(y, s)
    # F1 at every threshold of the PR curve (the last point, recall 0 and precision 1, has none).
    p, r = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)

    print(
        json.dumps(
            {
                "roc_auc": roc_auc_score(y, s),
                "average_precision": average_precision_score(y, s),
                "at": at,
                "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
                "pr": {"precision": precision.tolist(), "recall": recall.tolist(), "thresholds": pr_thresholds.tolist()},
                "max_f1": float(f1.max()),
            }
        )
    )


if __name__ == "__main__":
    main()
