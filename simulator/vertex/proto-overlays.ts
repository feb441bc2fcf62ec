import protobuf from 'protobufjs';

/**
 * Where the protos shipped in `@google-cloud/aiplatform` lag the service, the one place that says
 * so. Each overlay adds what a newer official Google source defines, and names that source.
 *
 * Field numbers do not travel in JSON, so an added field's number is ours (from 10000 up, clear
 * of Google's); its JSON name, type and oneof membership are the source's.
 */
export interface ProtoOverlay {
  what: string;
  source: string;
  apply(root: protobuf.Root): void;
}

const GENAI_TYPES =
  '@google/genai 3.1.0 dist/genai.d.ts (interfaces TuningJob, PreferenceOptimizationSpec, PreferenceOptimizationHyperParameters)';

export const PROTO_OVERLAYS: ProtoOverlay[] = ['v1', 'v1beta1'].map((version) => ({
  what: `google.cloud.aiplatform.${version}.TuningJob.preference_optimization_spec (oneof tuning_spec)`,
  source: `${GENAI_TYPES}: @google/genai sends it for method PREFERENCE_TUNING; @google-cloud/aiplatform 7.4's protos lack it`,
  apply(root) {
    const pkg = root.lookup(`google.cloud.aiplatform.${version}`) as protobuf.Namespace;
    if (pkg.get('PreferenceOptimizationSpec')) return;
    const hyper = new protobuf.Type('PreferenceOptimizationHyperParameters')
      .add(new protobuf.Field('epochCount', 1, 'int64'))
      .add(new protobuf.Field('learningRateMultiplier', 2, 'double'))
      .add(new protobuf.Field('beta', 3, 'double'))
      .add(new protobuf.Field('adapterSize', 4, 'SupervisedHyperParameters.AdapterSize'));
    const spec = new protobuf.Type('PreferenceOptimizationSpec')
      .add(new protobuf.Field('trainingDatasetUri', 1, 'string', undefined, undefined, { '(google.api.field_behavior)': 'REQUIRED' }))
      .add(new protobuf.Field('validationDatasetUri', 2, 'string'))
      .add(new protobuf.Field('hyperParameters', 3, 'PreferenceOptimizationHyperParameters'))
      .add(new protobuf.Field('exportLastCheckpointOnly', 4, 'bool'));
    pkg.add(hyper).add(spec);
    const job = pkg.lookupType('TuningJob');
    const field = new protobuf.Field('preferenceOptimizationSpec', 10_001, 'PreferenceOptimizationSpec');
    job.add(field);
    job.oneofs?.tuningSpec?.add(field);
    // protobufjs resolves lazily and remembers having done so: what is added later is resolved here.
    for (const type of [hyper, spec]) type.resolveAll();
    field.resolve();
  },
}));
