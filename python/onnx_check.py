"""Runs ONNX models exported by lib/onnx through the Python stack and writes what it saw.

Usage: onnx_check.py <dir>

<dir>/manifest.json lists the models:
    {"input": "input.f32", "rows": N, "features": D,
     "models": [{"kind": "xgboost", "file": "xgboost.onnx", "pyfunc": true}, ...]}
with the input rows as little-endian float32 (row-major N x D). For every model this script

1. loads it with `onnx` and runs `onnx.checker.check_model(model, full_check=True)`
   (full_check adds strict shape inference);
2. scores the rows with onnxruntime's Python API and writes `<kind>.ort.probability.f32` and
   `<kind>.ort.label.i64`;
3. when its entry says "pyfunc": true, saves it as an MLflow model (mlflow.onnx), loads it back
   as a pyfunc, predicts a DataFrame whose columns are the feature names from the model's
   metadata, and writes
   `<kind>.pyfunc.probability.f32` and `<kind>.pyfunc.label.i64` (about 5 s per model, so callers
   ask for it on one model: the graph interface is the same for every kind).

It asserts nothing about the values: it prints one line `RESULT:<json>` describing each model
(checker outcome, IR version, opsets, metadata, graph inputs/outputs, output columns), and the
calling test compares the written outputs with the TypeScript predictions.
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort


def describe_value(value):
    tensor = value.type.tensor_type
    dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in tensor.shape.dim]
    return {"name": value.name, "elem_type": onnx.TensorProto.DataType.Name(tensor.elem_type), "shape": dims}


def check(directory: Path, entry: dict, x: np.ndarray) -> dict:
    kind = entry["kind"]
    model = onnx.load(str(directory / entry["file"]))
    result = {
        "kind": kind,
        "ir_version": model.ir_version,
        "opsets": {op.domain: op.version for op in model.opset_import},
        "producer_name": model.producer_name,
        "metadata": {p.key: p.value for p in model.metadata_props},
        "inputs": [describe_value(v) for v in model.graph.input],
        "outputs": [describe_value(v) for v in model.graph.output],
    }
    try:
        onnx.checker.check_model(model, full_check=True)
        result["checker"] = "ok"
    except Exception as error:  # the test shows the checker's message
        result["checker"] = f"{type(error).__name__}: {error}"

    session = ort.InferenceSession(str(directory / entry["file"]), providers=["CPUExecutionProvider"])
    probability, label = session.run(["probability", "label"], {"input": x})
    result["ort"] = {"probability_shape": list(probability.shape), "probability_dtype": str(probability.dtype),
                     "label_shape": list(label.shape), "label_dtype": str(label.dtype)}
    probability.astype("<f4").tofile(directory / f"{kind}.ort.probability.f32")
    label.astype("<i8").tofile(directory / f"{kind}.ort.label.i64")

    if entry.get("pyfunc"):
        import mlflow.onnx
        import mlflow.pyfunc
        import pandas as pd

        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "model")
            mlflow.onnx.save_model(model, path)
            pyfunc = mlflow.pyfunc.load_model(path)
            names = json.loads(result["metadata"]["fraud_ml.feature_names"])
            frame = pyfunc.predict(pd.DataFrame(x, columns=names))
        result["pyfunc"] = {"columns": list(frame.columns), "rows": len(frame)}
        frame["probability"].to_numpy().astype("<f4").tofile(directory / f"{kind}.pyfunc.probability.f32")
        frame["label"].to_numpy().astype("<i8").tofile(directory / f"{kind}.pyfunc.label.i64")
    return result


def main() -> None:
    directory = Path(sys.argv[1])
    manifest = json.loads((directory / "manifest.json").read_text())
    x = np.fromfile(directory / manifest["input"], dtype="<f4").reshape(manifest["rows"], manifest["features"])
    results = [check(directory, entry, x) for entry in manifest["models"]]
    versions = {"onnx": onnx.__version__, "onnxruntime": ort.__version__}
    print("RESULT:" + json.dumps({"versions": versions, "models": results}))


if __name__ == "__main__":
    main()
