/**
 * Thrown by `exportOnnx` / `exportSavedModelOnnx` when a model cannot be written as ONNX: a kind the
 * exporter does not know, or a saved form that is malformed or inconsistent (e.g. trees that split
 * on a feature the model does not list). `kind` is the model kind when it is known; `cause` is the
 * error of the model-core reader that failed, when one did.
 */
export class OnnxExportError extends Error {
  override readonly name = 'OnnxExportError';
  constructor(
    message: string,
    readonly kind?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
