/**
 * A small builder of ONNX graphs on the protobufjs types of `onnx-proto`: typed-array tensors,
 * attributes, nodes with generated value names, and the final `ModelProto` bytes. It knows nothing
 * about fraud models; the per-kind modules compose it.
 */
import { onnx } from 'onnx-proto';

/** ONNX element types used by the exporter (values of `onnx.TensorProto.DataType`). */
export const ElementType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  INT64: onnx.TensorProto.DataType.INT64,
  BOOL: onnx.TensorProto.DataType.BOOL,
  DOUBLE: onnx.TensorProto.DataType.DOUBLE,
} as const;
export type ElementType = (typeof ElementType)[keyof typeof ElementType];

/** Operator-set domain of the classic ML operators (tree ensembles). */
export const ML_DOMAIN = 'ai.onnx.ml';

const BYTES: Record<ElementType, number> = { [ElementType.FLOAT]: 4, [ElementType.INT64]: 8, [ElementType.BOOL]: 1, [ElementType.DOUBLE]: 8 };

/**
 * A tensor of `type` and shape `dims`, its values little-endian in `raw_data` (what every runtime
 * reads fastest). Written through a DataView so the bytes do not depend on the host's byte order.
 */
export function tensor(name: string, type: ElementType, dims: readonly number[], values: ArrayLike<number | boolean>): onnx.ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new RangeError(`tensor ${name}: ${values.length} values for shape [${dims.join(', ')}]`);
  const view = new DataView(new ArrayBuffer(count * BYTES[type]));
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    switch (type) {
      case ElementType.FLOAT:
        view.setFloat32(i * 4, Number(v), true);
        break;
      case ElementType.DOUBLE:
        view.setFloat64(i * 8, Number(v), true);
        break;
      case ElementType.INT64:
        view.setBigInt64(i * 8, BigInt(Number(v)), true);
        break;
      case ElementType.BOOL:
        view.setUint8(i, v ? 1 : 0);
        break;
    }
  }
  return { name, dataType: type, dims: [...dims], rawData: new Uint8Array(view.buffer) };
}

const A = onnx.AttributeProto.AttributeType;
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Node attributes, one constructor per attribute type. Floats are stored as float32 by ONNX. */
export const attr = {
  int: (name: string, i: number): onnx.IAttributeProto => ({ name, type: A.INT, i }),
  float: (name: string, f: number): onnx.IAttributeProto => ({ name, type: A.FLOAT, f }),
  string: (name: string, s: string): onnx.IAttributeProto => ({ name, type: A.STRING, s: utf8(s) }),
  ints: (name: string, ints: ArrayLike<number>): onnx.IAttributeProto => ({ name, type: A.INTS, ints: Array.from(ints) }),
  floats: (name: string, floats: ArrayLike<number>): onnx.IAttributeProto => ({ name, type: A.FLOATS, floats: Array.from(floats) }),
  strings: (name: string, strings: readonly string[]): onnx.IAttributeProto => ({ name, type: A.STRINGS, strings: strings.map(utf8) }),
};

/** A dimension: a fixed size, or a symbolic name such as `N` (dim_param). */
export type Dim = number | string;

/** The type of a graph input or output: a tensor of `type` and shape `dims`. */
export function valueInfo(name: string, type: ElementType, dims: readonly Dim[], docString?: string): onnx.IValueInfoProto {
  return {
    name,
    docString,
    type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

export interface NodeOptions {
  attributes?: onnx.IAttributeProto[];
  /** @default '' (the default ai.onnx domain) */
  domain?: string;
  /** Prefix of the generated output name (and node name). @default the lower-cased op type */
  hint?: string;
  /** Exact output names instead of a generated one, e.g. a graph output. */
  outputs?: string[];
}

/**
 * Collects nodes and initializers in order. Value names are generated from hints (`hint_3`), so
 * the per-kind modules never collide; graph outputs take their exact names through
 * `NodeOptions.outputs`.
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

  /** A name not used yet in this graph, `hint` or `hint_k`. */
  fresh(hint: string): string {
    let name = hint;
    for (let k = 1; this.used.has(name); k++) name = `${hint}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Reserves a fixed name (a graph input or output). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new RangeError(`value name ${name} is already used`);
    this.used.add(name);
    return name;
  }

  /** A constant (initializer) tensor; returns its value name. */
  constant(hint: string, type: ElementType, dims: readonly number[], values: ArrayLike<number | boolean>): string {
    const name = this.fresh(hint);
    this.initializers.push(tensor(name, type, dims, values));
    return name;
  }

  /** A scalar constant (shape `[]`), broadcast by the arithmetic operators. */
  scalar(hint: string, type: ElementType, value: number): string {
    return this.constant(hint, type, [], [value]);
  }

  /** Adds a node with one output; returns the output's name. */
  node(opType: string, inputs: readonly string[], options: NodeOptions = {}): string {
    return this.nodeWithOutputs(opType, inputs, 1, options)[0]!;
  }

  /** Adds a node with `count` outputs; returns their names. */
  nodeWithOutputs(opType: string, inputs: readonly string[], count: number, options: NodeOptions = {}): string[] {
    const hint = options.hint ?? opType.toLowerCase();
    const outputs = options.outputs ?? Array.from({ length: count }, () => this.fresh(hint));
    if (options.outputs) for (const name of outputs) if (!this.used.has(name)) this.reserve(name);
    this.nodes.push({
      opType,
      domain: options.domain ?? '',
      name: this.fresh(`${hint}_node`),
      input: [...inputs],
      output: outputs,
      attribute: options.attributes ?? [],
    });
    return outputs;
  }

  /** The graph with these inputs and outputs (their value names must have been produced by nodes). */
  build(name: string, inputs: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[], docString?: string): onnx.IGraphProto {
    return { name, docString, input: inputs, output: outputs, node: [...this.nodes], initializer: [...this.initializers] };
  }
}

export interface ModelProtoOptions {
  graph: onnx.IGraphProto;
  irVersion: number;
  /** Operator sets by domain (`''` is ai.onnx). */
  opsets: Record<string, number>;
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata: Record<string, string>;
}

/** The serialized `ModelProto`. */
export function encodeModel(options: ModelProtoOptions): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: options.irVersion,
    opsetImport: Object.entries(options.opsets).map(([domain, version]) => ({ domain, version })),
    producerName: options.producerName,
    producerVersion: options.producerVersion,
    docString: options.docString,
    graph: options.graph,
    metadataProps: Object.entries(options.metadata).map(([key, value]) => ({ key, value })),
  };
  return onnx.ModelProto.encode(model).finish();
}
