import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../lib/config';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { trainModel } from '../../lib/ml/models';
import { mlflowModelFiles, PYTHON_REQUIREMENTS, TS_FLAVOR } from '../../lib/packaging/mlflow-model';
import { ONNX_OUTPUTS } from '../../lib/onnx';

/** The logged `model/` directory is a standard MLflow model (what mlflow.pyfunc reads), plus our own flavor. */
describe('mlflowModelFiles', () => {
  it('writes MLmodel with the onnx, python_function and TypeScript flavors, a named double signature and env files', async () => {
    const split = stratifiedSplit(generateTransactions({ rows: 3000, seed: 3, fraudRate: 0.05 }), { seed: 3 });
    const { model } = await trainModel('isolation_forest', split, { nTrees: 20 });
    const saved = model.toJSON();
    const modelJson = JSON.stringify(saved);
    const files = mlflowModelFiles({
      saved,
      modelJson,
      runId: 'abc123',
      threshold: 0.3,
      example: { features: split.test.features.subarray(0, 2 * 30), numRows: 2 },
      mlflowVersion: '3.17.2',
      now: new Date('2026-01-02T03:04:05.678Z'),
    });
    expect([...files.keys()].sort()).toEqual(['MLmodel', 'conda.yaml', 'input_example.json', 'model.json', 'model.onnx', 'python_env.yaml', 'requirements.txt', 'serving_input_example.json']);
    const mlmodel = parse(files.get('MLmodel') as string) as {
      flavors: Record<string, Record<string, unknown>>;
      run_id: string;
      utc_time_created: string;
      model_uuid: string;
      signature: { inputs: string; outputs: string };
    };
    expect(mlmodel.flavors.python_function).toMatchObject({ loader_module: 'mlflow.onnx', data: 'model.onnx', env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' } });
    expect(mlmodel.flavors.onnx?.data).toBe('model.onnx');
    expect(mlmodel.flavors[TS_FLAVOR]).toMatchObject({ data: 'model.json', model_kind: 'isolation_forest' });
    expect(mlmodel.run_id).toBe('abc123');
    expect(mlmodel.utc_time_created).toBe('2026-01-02 03:04:05.678000');
    expect(mlmodel.model_uuid).toMatch(/^[0-9a-f]{32}$/);
    const inputs = JSON.parse(mlmodel.signature.inputs) as { type: string; name: string }[];
    expect(inputs.map((c) => c.name)).toEqual(saved.featureNames);
    expect(new Set(inputs.map((c) => c.type))).toEqual(new Set(['double']));
    expect((JSON.parse(mlmodel.signature.outputs) as { name: string }[]).map((c) => c.name)).toEqual([ONNX_OUTPUTS.probability, ONNX_OUTPUTS.label]);
    expect(files.get('model.json')).toBe(modelJson);
    const example = JSON.parse(files.get('input_example.json') as string) as { columns: string[]; data: number[][] };
    expect(example.columns).toEqual(saved.featureNames);
    expect(example.data[1]).toEqual(Array.from(split.test.features.subarray(30, 60)));
  });

  it('asks Python for the same package versions the project tests the models with (python/requirements.txt)', () => {
    const pins = Object.fromEntries(
      readFileSync(join(projectRoot, 'python', 'requirements.txt'), 'utf8')
        .split('\n')
        .map((l) => /^([A-Za-z0-9_.-]+)==(\S+)/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!.toLowerCase(), m[2]!]),
    );
    for (const [name, version] of Object.entries(PYTHON_REQUIREMENTS)) expect(`${name}==${pins[name]}`).toBe(`${name}==${version}`);
  });
});
