"""Reads or writes MLflow objects with the official Python client, for the TypeScript cross-check.

Used by test/integration/mlflow-python-crosscheck.test.ts with MLFLOW_TRACKING_URI set:

  read_mlflow.py read  --run-id ID --metric KEY... --model NAME --alias ALIAS
      what the Python client sees of a run and a registered model that TypeScript wrote;
  read_mlflow.py write --experiment NAME
      logs a run with params, metrics and artifacts for TypeScript to read back.

The result is printed as one line 'RESULT:<json>' on stdout, so log lines MLflow may print
on stdout cannot be mistaken for it.
"""

import argparse
import hashlib
import json
import os
import tempfile

import mlflow
from mlflow import MlflowClient


def sha_tree(root):
    """{relative '/'-separated path: sha256} of every file under root."""
    out = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as f:
                out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def version_dict(mv):
    return {
        "name": mv.name,
        "version": str(mv.version),
        "run_id": mv.run_id,
        "source": mv.source,
        "current_stage": mv.current_stage,
        "aliases": sorted(mv.aliases or []),
        "tags": dict(mv.tags or {}),
    }


def read(args):
    client = MlflowClient()
    run = client.get_run(args.run_id)
    histories = {
        key: [
            {"step": m.step, "value": m.value, "timestamp": m.timestamp}
            for m in sorted(client.get_metric_history(args.run_id, key), key=lambda m: m.step)
        ]
        for key in args.metric
    }
    run_dir = mlflow.artifacts.download_artifacts(run_id=args.run_id, dst_path=tempfile.mkdtemp())
    model_dir = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{args.model}@{args.alias}", dst_path=tempfile.mkdtemp()
    )
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": run.data.tags,
        "histories": histories,
        "artifacts": sha_tree(run_dir),
        "staging": [version_dict(v) for v in client.get_latest_versions(args.model, ["Staging"])],
        "alias": version_dict(client.get_model_version_by_alias(args.model, args.alias)),
        # Python's models:/ download adds this file of its own (name and version, for pyfunc);
        # it is not in the registry, so it is left out of the comparison.
        "model_files": {k: v for k, v in sha_tree(model_dir).items() if k != "registered_model_meta"},
    }


def write(args):
    mlflow.set_experiment(args.experiment)
    src = tempfile.mkdtemp()
    os.makedirs(os.path.join(src, "report", "plots"))
    with open(os.path.join(src, "report", "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"auc": 0.91, "note": "written by python"}, f)
    with open(os.path.join(src, "report", "plots", "blob.bin"), "wb") as f:
        f.write(bytes(range(256)) * 40)
    with mlflow.start_run(run_name="python-writer") as run:
        mlflow.log_params({"alpha": 0.5, "solver": "lbfgs", "layers": "[64, 32]"})
        for step in range(7):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("auc", 0.91)
        mlflow.set_tags({"origin": "python", "stage": "crosscheck"})
        mlflow.log_artifacts(src, artifact_path="py")
    client = MlflowClient()
    final = client.get_run(run.info.run_id)
    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "params": final.data.params,
        "metrics": final.data.metrics,
        "tags": final.data.tags,
        "loss_history": [
            {"step": m.step, "value": m.value, "timestamp": m.timestamp}
            for m in sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
        ],
        "artifacts": {f"py/{k}": v for k, v in sha_tree(src).items()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read")
    r.add_argument("--run-id", required=True)
    r.add_argument("--metric", action="append", default=[])
    r.add_argument("--model", required=True)
    r.add_argument("--alias", required=True)
    w = sub.add_parser("write")
    w.add_argument("--experiment", required=True)
    args = parser.parse_args()
    result = read(args) if args.command == "read" else write(args)
    # allow_nan=False: a NaN would be invalid JSON for the reader; fail here instead.
    print("RESULT:" + json.dumps(result, allow_nan=False), flush=True)


if __name__ == "__main__":
    main()
