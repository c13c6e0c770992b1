"""Python reference for `npm run bench:train`: trains ONE model the way the seed stack would
(scikit-learn, xgboost, Keras) on the benchmark's CSV splits, with the hyperparameters the
TypeScript side used, and prints one JSON line: seconds of training, peak RSS of this process,
and the test PR-AUC (average precision).

One model per process, so each model's peak memory is its own.

usage: reference_train.py --model xgboost --data DIR --params '{"...": ...}'
DIR holds train.csv, validation.csv, test.csv (header: features..., Class).
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score


FEATURES = []


def load(data_dir, part):
    frame = pd.read_csv(os.path.join(data_dir, f"{part}.csv"), dtype=np.float32)
    y = frame.pop("Class").to_numpy().astype(np.int32)
    FEATURES[:] = list(frame.columns)
    return frame.to_numpy(dtype=np.float32), y


def train_xgboost(p, x, y, xv, yv, threads):
    import xgboost as xgb

    pos = float(y.sum())
    model = xgb.XGBClassifier(
        n_estimators=p["nRounds"],
        max_depth=p["maxDepth"],
        learning_rate=p["eta"],
        subsample=p["subsample"],
        colsample_bytree=p["colsampleBytree"],
        min_child_weight=p["minChildWeight"],
        gamma=p["gamma"],
        reg_lambda=p["lambda"],
        reg_alpha=p["alpha"],
        tree_method="hist",
        max_bin=p.get("maxBin", 256),
        scale_pos_weight=(len(y) - pos) / pos,
        n_jobs=threads,
        random_state=p["seed"],
    )
    model.fit(x, y)
    return lambda data: model.predict_proba(data)[:, 1]


def train_random_forest(p, x, y, xv, yv, threads):
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(
        n_estimators=p["nTrees"],
        max_depth=p["maxDepth"],
        max_features="sqrt",
        class_weight="balanced_subsample",
        n_jobs=threads,
        random_state=p["seed"],
    )
    model.fit(x, y)
    return lambda data: model.predict_proba(data)[:, 1]


def train_neural_network(p, x, y, xv, yv, threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(p["seed"])
    # The same preprocessing as ours: sign(x)*log1p(|x|) on the listed columns, then a StandardScaler fitted on train.
    log_cols = [FEATURES.index(c) for c in p.get("log1pFeatures", ["Amount"]) if c in FEATURES]

    def logged(data):
        data = data.copy()
        data[:, log_cols] = np.sign(data[:, log_cols]) * np.log1p(np.abs(data[:, log_cols]))
        return data

    mean, std = logged(x).mean(axis=0), logged(x).std(axis=0)
    std[std < 1e-12] = 1.0
    scale = lambda data: (logged(data) - mean) / std  # noqa: E731
    layers = [tf.keras.Input(shape=(x.shape[1],))]
    for units in p["hiddenLayers"]:
        layers.append(tf.keras.layers.Dense(units, activation="relu"))
        if p.get("dropout", 0) > 0:
            layers.append(tf.keras.layers.Dropout(p["dropout"]))
    layers.append(tf.keras.layers.Dense(1, activation="sigmoid"))
    model = tf.keras.Sequential(layers)
    model.compile(optimizer=tf.keras.optimizers.Adam(p["learningRate"]), loss="binary_crossentropy")
    pos = float(y.sum())
    weight = {"sqrt": ((len(y) - pos) / pos) ** 0.5, "balanced": (len(y) - pos) / pos, "none": 1.0}.get(
        p.get("classWeight", "sqrt"), p.get("classWeight")
    )
    model.fit(
        scale(x), y, epochs=p["epochs"], batch_size=p["batchSize"], verbose=0,
        class_weight={0: 1.0, 1: float(weight)}, shuffle=True,
    )
    return lambda data: model.predict(scale(data), batch_size=8192, verbose=0).reshape(-1)


def train_isolation_forest(p, x, y, xv, yv, threads):
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(
        n_estimators=p["nTrees"], max_samples=p["maxSamples"], n_jobs=threads, random_state=p["seed"]
    )
    model.fit(x)
    # Higher = more anomalous; PR-AUC only depends on the ranking.
    return lambda data: -model.score_samples(data)


TRAINERS = {
    "xgboost": train_xgboost,
    "random_forest": train_random_forest,
    "neural_network": train_neural_network,
    "isolation_forest": train_isolation_forest,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, choices=sorted(TRAINERS))
    parser.add_argument("--data", required=True)
    parser.add_argument("--params", required=True, help="JSON hyperparameters, TypeScript names")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    params = json.loads(args.params)
    x, y = load(args.data, "train")
    xv, yv = load(args.data, "validation")
    xt, yt = load(args.data, "test")
    started = time.perf_counter()
    predict = TRAINERS[args.model](params, x, y, xv, yv, args.threads)
    seconds = time.perf_counter() - started
    scores = np.asarray(predict(xt), dtype=np.float64)
    print(json.dumps({
        "model": args.model,
        "seconds": seconds,
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "prAuc": float(average_precision_score(yt, scores)),
        "threads": args.threads,
    }))


if __name__ == "__main__":
    sys.exit(main())
