import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import type { z } from 'zod';
import { completionConfigSchema } from '../../../shared/config/completion.ts';
import { converterConfigSchema } from '../../../shared/config/converter.ts';
import { launcherConfigSchema } from '../../../shared/config/launcher.ts';
import { pollerConfigSchema } from '../../../shared/config/poller.ts';
import { statusConfigSchema } from '../../../shared/config/status.ts';

/**
 * No Terraform binary can be installed here, so the configuration is checked as data: the HCL is
 * parsed (@cdktf/hcl2json, HashiCorp's own HCL parser compiled to WebAssembly) and the wiring
 * asserted — what each function reads is what Terraform sets, every reference resolves, each
 * trigger points at the right function, and no identity holds a role outside its allow-list.
 */
const infra = fileURLToPath(new URL('../../../infra/', import.meta.url));
const files = readdirSync(infra).filter((name) => name.endsWith('.tf'));
const sources = Object.fromEntries(files.map((name) => [name, readFileSync(`${infra}${name}`, 'utf8')]));

type Block = Record<string, unknown>;
interface Config {
  resource: Record<string, Record<string, Block>>;
  locals: Record<string, unknown>;
  variable: Record<string, Block>;
  data: Record<string, Record<string, Block>>;
}

async function load(): Promise<Config> {
  const config: Config = { resource: {}, locals: {}, variable: {}, data: {} };
  for (const [name, text] of Object.entries(sources)) {
    const parsed = (await parse(name, text)) as Record<string, unknown>;
    for (const [type, byName] of Object.entries((parsed.resource ?? {}) as Record<string, Record<string, Block[]>>)) {
      config.resource[type] ??= {};
      for (const [id, blocks] of Object.entries(byName)) config.resource[type]![id] = blocks[0]!;
    }
    for (const [type, byName] of Object.entries((parsed.data ?? {}) as Record<string, Record<string, Block[]>>)) {
      config.data[type] ??= {};
      for (const [id, blocks] of Object.entries(byName)) config.data[type]![id] = blocks[0]!;
    }
    for (const block of (parsed.locals ?? []) as Block[]) Object.assign(config.locals, block);
    for (const [id, blocks] of Object.entries((parsed.variable ?? {}) as Record<string, Block[]>)) config.variable[id] = blocks[0]!;
  }
  return config;
}
const configPromise = load();

const first = (value: unknown): Block => (Array.isArray(value) ? (value[0] as Block) : (value as Block));
const EMULATOR_VARIABLES = ['FIRESTORE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'VERTEX_BASE_URL'];
const FUNCTIONS: Record<string, z.ZodObject> = {
  converter: converterConfigSchema,
  launcher: launcherConfigSchema,
  poller: pollerConfigSchema,
  completion: completionConfigSchema,
  status: statusConfigSchema,
};
/** The pipeline's own functions: called only by Eventarc or Cloud Scheduler, from inside Google. */
const PIPELINE_FUNCTIONS = ['converter', 'launcher', 'poller', 'completion'];

test('every variable each function reads (its zod config schema) is set by Terraform; no emulator variable is, and nothing unknown', async () => {
  const config = await configPromise;
  for (const [name, schema] of Object.entries(FUNCTIONS)) {
    const fn = config.resource.google_cloudfunctions2_function?.[name];
    assert.ok(fn, `function ${name} is declared`);
    const service = first(fn.service_config);
    // Variables from Secret Manager count as set: a function with secret_environment_variables gets the keys of local.mlflow_secrets.
    const secrets = JSON.stringify(service.dynamic ?? {}).includes('secret_environment_variables');
    const secretKeys = secrets ? Object.keys((config.locals.mlflow_secrets ?? {}) as Record<string, unknown>) : [];
    const env = { ...(service.environment_variables as Record<string, string>), ...Object.fromEntries(secretKeys.map((key) => [key, '${secret}'])) };
    const wanted = Object.keys(schema.shape).filter((key) => !EMULATOR_VARIABLES.includes(key));
    assert.deepEqual(wanted.filter((key) => !(key in env)), [], `${name}: variables its config reads but Terraform does not set`);
    assert.deepEqual(Object.keys(env).filter((key) => !(key in schema.shape)), [], `${name}: variables set that its config does not read (a typo?)`);
    assert.deepEqual(Object.keys(env).filter((key) => EMULATOR_VARIABLES.includes(key)), [], `${name}: emulator variables must never be deployed`);
    // Literal values must pass the function's own schema, so a bad default fails here, not at start-up in the cloud.
    const literal = Object.fromEntries(Object.entries(env).filter(([, value]) => !value.includes('${')));
    const checked = schema.partial().safeParse(literal);
    assert.ok(checked.success, `${name}: ${JSON.stringify(checked.error?.issues)}`);
  }
});

test('every bucket, topic, variable and service account a reference names is declared', async () => {
  const config = await configPromise;
  const text = Object.values(sources).join('\n');
  for (const [, type, id] of text.matchAll(/\b(google_[a-z0-9_]+)\.([a-z0-9_]+)\b(?!\s*=)/g)) {
    if (type!.startsWith('google_') && !/^(google_project|google_storage_project_service_account)$/.test(type!) && config.data[type!]?.[id!] === undefined) {
      assert.ok(config.resource[type!]?.[id!], `${type}.${id} is referenced but not declared`);
    }
  }
  for (const [, name] of text.matchAll(/\bvar\.([a-z0-9_]+)/g)) assert.ok(config.variable[name!], `var.${name} is not declared`);
  const identities = Object.keys(config.locals.identities as Record<string, string>);
  for (const [, name] of text.matchAll(/google_service_account\.sa\["([a-z]+)"\]/g)) assert.ok(identities.includes(name!), `service account ${name} is not declared`);
  for (const [, name] of text.matchAll(/local\.sa\.([a-z]+)/g)) assert.ok(identities.includes(name!), `service account ${name} is not declared`);
});

test('each trigger points at the right function: object finalize on the raw bucket → converter, launch → launcher, run-events → completion, scheduler (OIDC) → poller', async () => {
  const config = await configPromise;
  const fns = config.resource.google_cloudfunctions2_function!;
  const trigger = (name: string) => first(fns[name]!.event_trigger);
  assert.equal(trigger('converter').event_type, 'google.cloud.storage.object.v1.finalized');
  assert.deepEqual(first(trigger('converter').event_filters), { attribute: 'bucket', value: '${google_storage_bucket.raw.name}' });
  assert.equal(trigger('launcher').event_type, 'google.cloud.pubsub.topic.v1.messagePublished');
  assert.equal(trigger('launcher').pubsub_topic, '${google_pubsub_topic.launch.id}');
  assert.equal(trigger('completion').pubsub_topic, '${google_pubsub_topic.run_events.id}');
  for (const name of ['converter', 'launcher', 'completion']) {
    assert.equal(trigger(name).retry_policy, 'RETRY_POLICY_RETRY', `${name} retries failed deliveries`);
    assert.equal(trigger(name).service_account_email, '${google_service_account.sa["trigger"].email}');
  }
  assert.equal(fns.poller!.event_trigger, undefined, 'the poller is HTTP');
  const job = config.resource.google_cloud_scheduler_job!.poller!;
  const target = first(job.http_target);
  assert.equal(target.uri, '${google_cloudfunctions2_function.poller.service_config[0].uri}');
  assert.equal(first(target.oidc_token).service_account_email, '${google_service_account.sa["scheduler"].email}');
  // Entry points match the names the functions register (functions/*/index.ts).
  for (const name of Object.keys(FUNCTIONS)) {
    assert.equal(first(fns[name]!.build_config).entry_point, name);
    assert.equal(first(fns[name]!.build_config).runtime, 'nodejs22');
    assert.match(readFileSync(fileURLToPath(new URL(`../../../functions/${name}/index.ts`, import.meta.url)), 'utf8'), new RegExp(`functions\\.(cloudEvent|http)(<unknown>)?\\('${name}'`));
  }
});

test('each function runs as its own service account, internal ingress only, and only its caller may invoke it', async () => {
  const config = await configPromise;
  const fns = config.resource.google_cloudfunctions2_function!;
  const accounts = Object.keys(FUNCTIONS).map((name) => first(fns[name]!.service_config).service_account_email);
  assert.deepEqual(accounts, Object.keys(FUNCTIONS).map((name) => `\${google_service_account.sa["${name}"].email}`));
  for (const name of PIPELINE_FUNCTIONS) assert.equal(first(fns[name]!.service_config).ingress_settings, 'ALLOW_INTERNAL_ONLY');
  const invokers = config.resource.google_cloud_run_service_iam_member!;
  assert.equal(invokers.scheduler_invokes_poller!.member, '${local.sa.scheduler}');
  assert.equal(invokers.trigger_invokes!.member, '${local.sa.trigger}');
  assert.deepEqual(Object.keys(invokers.trigger_invokes!.for_each as Block).sort(), ['completion', 'converter', 'launcher']);
  // The status function is reachable from outside, but only the named viewers may invoke it.
  assert.equal(first(fns.status!.service_config).ingress_settings, 'ALLOW_ALL');
  assert.equal(fns.status!.event_trigger, undefined, 'the status function is HTTP');
  assert.equal(invokers.status_viewers!.service, '${google_cloudfunctions2_function.status.service_config[0].service}');
  assert.equal(invokers.status_viewers!.for_each, '${toset(var.status_viewers)}');
  assert.deepEqual(Object.keys(invokers).sort(), ['scheduler_invokes_poller', 'status_viewers', 'trigger_invokes'], 'no other invoker grants');
  const viewers = first(config.variable.status_viewers!.validation);
  assert.match(String(viewers.condition), /user\|group\|serviceAccount\|domain/, 'status_viewers refuses anything but named identities');
});

// What each identity may hold, and why (also in docs/deploy.md).
const PROJECT_ROLE_ALLOW_LIST: Record<string, string[]> = {
  converter: ['roles/datastore.user', 'roles/logging.logWriter'],
  launcher: ['roles/datastore.user', 'roles/aiplatform.user', 'roles/logging.logWriter'],
  poller: ['roles/datastore.user', 'roles/aiplatform.user', 'roles/logging.logWriter'],
  completion: ['roles/datastore.user', 'roles/aiplatform.user', 'roles/logging.logWriter'],
  status: ['roles/datastore.viewer', 'roles/logging.logWriter'],
  trigger: ['roles/eventarc.eventReceiver'],
  builder: ['roles/logging.logWriter'],
};
const BUCKET_ROLE_ALLOW_LIST: Record<string, Record<string, string[]>> = {
  converter: { raw: ['roles/storage.objectViewer'], datasets: ['roles/storage.objectViewer', 'roles/storage.objectCreator'] },
  launcher: { datasets: ['roles/storage.objectViewer', 'roles/storage.objectCreator'] },
  completion: { datasets: ['roles/storage.objectViewer'], outputs: ['roles/storage.objectViewer', 'roles/storage.objectCreator'] },
  vertex_agent: { raw: ['roles/storage.objectViewer'], datasets: ['roles/storage.objectViewer'], outputs: ['roles/storage.objectUser'] },
  builder: { source: ['roles/storage.objectViewer'] },
};
// The poller publishes a queued run's launch request again when a tuning slot frees up (admission control).
const TOPIC_ALLOW_LIST: Record<string, string[]> = { converter: ['launch'], poller: ['run_events', 'launch'], completion: ['run_events'] };

test('no service account holds a role outside its allow-list: the converter cannot start jobs, the launcher cannot read raw data', async () => {
  const config = await configPromise;
  const projectRoles = config.locals.project_roles as Record<string, string[]>;
  for (const [identity, roles] of Object.entries(projectRoles)) {
    for (const role of roles) assert.ok(PROJECT_ROLE_ALLOW_LIST[identity]?.includes(role), `${identity} must not hold ${role} on the project`);
  }
  assert.ok(!projectRoles.converter!.includes('roles/aiplatform.user'), 'the converter cannot start tuning jobs');
  assert.deepEqual(projectRoles.status, ['roles/datastore.viewer', 'roles/logging.logWriter'], 'the status function only reads');
  assert.ok(!Object.values(config.locals.bucket_bindings as Record<string, { member: string }>).some((b) => b.member.includes('local.sa.status')), 'the status function reads no bucket');
  for (const [key, binding] of Object.entries(config.locals.bucket_bindings as Record<string, { bucket: string; role: string; member: string }>)) {
    const identity = /local\.sa\.([a-z]+)/.exec(binding.member)?.[1] ?? (binding.member.includes('vertex_agent') ? 'vertex_agent' : binding.member);
    const bucket = /google_storage_bucket\.([a-z]+)\.name/.exec(binding.bucket)?.[1] ?? binding.bucket;
    assert.ok(BUCKET_ROLE_ALLOW_LIST[identity]?.[bucket]?.includes(binding.role), `${key}: ${identity} must not hold ${binding.role} on ${bucket}`);
  }
  const launcherBuckets = Object.values(config.locals.bucket_bindings as Record<string, { bucket: string; member: string }>).filter((b) => b.member.includes('local.sa.launcher'));
  assert.ok(launcherBuckets.every((b) => !b.bucket.includes('google_storage_bucket.raw')), 'the launcher cannot read raw data');
  for (const [key, binding] of Object.entries(config.locals.topic_bindings as Record<string, { topic: string; member: string }>)) {
    const identity = /local\.sa\.([a-z]+)/.exec(binding.member)?.[1] ?? binding.member;
    const topic = /google_pubsub_topic\.([a-z_]+)\.id/.exec(binding.topic)?.[1] ?? binding.topic;
    assert.ok(TOPIC_ALLOW_LIST[identity]?.includes(topic), `${key}: ${identity} must not publish to ${topic}`);
  }
  // Project-level grants outside the per-function map: the Cloud Storage agent's publisher role, which
  // Eventarc's storage triggers need, and the build identity's Storage Object Admin, held only on the
  // gcf-v2-sources-* buckets (an IAM condition), as "Custom Service Account for Cloud Build" asks.
  const others = Object.entries(config.resource.google_project_iam_member!).filter(([id]) => id !== 'roles');
  assert.deepEqual(
    others.map(([id, b]) => [id, b.role]),
    [
      ['builder_function_sources', 'roles/storage.objectAdmin'],
      ['gcs_agent_publisher', 'roles/pubsub.publisher'],
    ],
  );
  const sourcesGrant = config.resource.google_project_iam_member!.builder_function_sources!;
  assert.equal(sourcesGrant.member, '${local.sa.builder}');
  assert.equal(first(sourcesGrant.condition).expression, 'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")');
  // Nobody else is an owner, editor or admin of anything.
  const withoutConditioned = Object.values(sources)
    .join('\n')
    .replace(/resource "google_project_iam_member" "builder_function_sources" \{[\s\S]*?\n\}/, '');
  assert.doesNotMatch(withoutConditioned, /roles\/(owner|editor|[a-z.]*[aA]dmin)"/);
});

test('nothing is public: no allUsers or allAuthenticatedUsers, every bucket has uniform access and public access prevention', async () => {
  const config = await configPromise;
  assert.doesNotMatch(Object.values(sources).join('\n'), /allUsers|allAuthenticatedUsers/);
  for (const [id, bucket] of Object.entries(config.resource.google_storage_bucket!)) {
    assert.equal(bucket.uniform_bucket_level_access, true, `${id}: uniform access`);
    assert.equal(bucket.public_access_prevention, 'enforced', `${id}: public access prevention`);
  }
  const raw = config.resource.google_storage_bucket!.raw!;
  assert.equal(first(raw.versioning).enabled, true, 'raw uploads are versioned');
  assert.equal(first(first(raw.lifecycle_rule).condition).days_since_noncurrent_time, '${var.noncurrent_version_days}');
});

test('every Pub/Sub trigger gets a dead-letter topic and a delivery limit, and every dead-letter topic a subscription holding its messages', async () => {
  const config = await configPromise;
  const triggers = config.locals.pubsub_triggers as Record<string, { subscription: string; dead_letter_topic: string }>;
  const pubsubFunctions = Object.entries(config.resource.google_cloudfunctions2_function!).filter(([, fn]) => first(fn.event_trigger)?.pubsub_topic);
  assert.deepEqual(Object.keys(triggers).sort(), pubsubFunctions.map(([name]) => name).sort());
  const command = String(first(config.resource.terraform_data!.trigger_dead_letter!.provisioner)['local-exec'] ? JSON.stringify(config.resource.terraform_data!.trigger_dead_letter) : '');
  assert.match(command, /--dead-letter-topic=\$\{each.value.dead_letter_topic\}/);
  assert.match(command, /--max-delivery-attempts=\$\{var.max_delivery_attempts\}/);
  const held = Object.values(config.resource.google_pubsub_subscription!).map((sub) => sub.topic);
  for (const { dead_letter_topic } of Object.values(triggers)) {
    const topic = /google_pubsub_topic\.([a-z_]+)\.id/.exec(dead_letter_topic)![1]!;
    assert.ok(config.resource.google_pubsub_topic![topic], `${topic} exists`);
    assert.ok(held.includes(dead_letter_topic), `${topic} has a subscription holding its messages`);
  }
  // The launcher's dead-letter count is the subscription's limit.
  assert.equal(first(config.resource.google_cloudfunctions2_function!.launcher!.service_config).environment_variables && (first(config.resource.google_cloudfunctions2_function!.launcher!.service_config).environment_variables as Record<string, string>).LAUNCH_MAX_DELIVERIES, '${tostring(var.max_delivery_attempts)}');
});

test('Firestore has the composite indexes the queries need, and the rules file that is tested is the one deployed', async () => {
  const config = await configPromise;
  const indexes = Object.values(config.locals.run_indexes as Record<string, [string, string][]>).map((fields) => fields.map(([field, order]) => `${field} ${order}`).join(', '));
  const pollStore = readFileSync(fileURLToPath(new URL('../../../adapters/firestore/poll-store.ts', import.meta.url)), 'utf8');
  assert.match(pollStore, /where\('state', 'not-in', \[\.\.\.TERMINAL_STATES\]\)\s*\.orderBy\('state'\)\s*\.orderBy\('runId'\)/);
  assert.ok(indexes.includes('state ASCENDING, runId ASCENDING'));
  assert.ok(indexes.includes('state ASCENDING, createTime DESCENDING'));
  assert.ok(indexes.includes('experiment ASCENDING, createTime DESCENDING'));
  const statusReader = readFileSync(fileURLToPath(new URL('../../../adapters/firestore/status-reader.ts', import.meta.url)), 'utf8');
  assert.match(statusReader, /where\('verdict', '==', query\.verdict\)[\s\S]*orderBy\('index'\)/);
  const examples = config.resource.google_firestore_index!.examples_by_verdict!;
  assert.equal(examples.collection, 'examples');
  assert.deepEqual(
    (examples.fields as { field_path: string; order: string }[]).map((field) => `${field.field_path} ${field.order}`),
    ['verdict ASCENDING', 'index ASCENDING'],
  );
  const ruleset = first(first(config.resource.google_firebaserules_ruleset!.firestore!.source).files);
  assert.equal(ruleset.content, '${file("${path.module}/../firestore.rules")}');
});

/**
 * Cloud Run: "Total cpu < 1 is not supported with concurrency > 1" (Cloud Run's CPU limits page:
 * fewer than 1 vCPU requires a concurrency of 1), and a function without available_cpu gets a
 * share set by its memory (under one vCPU at 512 MiB).
 */
test('a function serving several requests at once is given at least one whole vCPU', async () => {
  const config = await configPromise;
  for (const [name, fn] of Object.entries(config.resource.google_cloudfunctions2_function ?? {})) {
    const service = first(fn.service_config);
    const concurrency = Number(service.max_instance_request_concurrency ?? 1);
    if (concurrency <= 1) continue;
    assert.ok(Number(service.available_cpu ?? 0) >= 1, `${name}: concurrency ${concurrency} needs available_cpu >= 1`);
  }
});

test('the Firestore rules release names its ruleset by its full resource name (projects/PROJECT/rulesets/ID)', async () => {
  const config = await configPromise;
  const release = config.resource.google_firebaserules_release?.firestore;
  assert.match(String(release?.ruleset_name), /^projects\/\$\{var\.project\}\/rulesets\/\$\{google_firebaserules_ruleset\.firestore\.name\}$/);
});

test("the functions' source archive leaves out every folder .gitignore names (test artifacts, coverage, scratch)", async () => {
  const config = await configPromise;
  const archive = config.data.archive_file?.source;
  const excludes = new Set((archive?.excludes as string[]) ?? []);
  const ignored = readFileSync(fileURLToPath(new URL('../../../.gitignore', import.meta.url)), 'utf8')
    .split('\n')
    .map((line) => line.trim().replace(/^\//, '').replace(/\/$/, ''))
    .filter((line) => line !== '' && !line.includes('*') && !line.includes('/'));
  for (const folder of ignored) assert.ok(excludes.has(folder), `${folder} (in .gitignore) is not excluded from the source archive`);
});

test('topics and subscriptions wait for the APIs; the Resource Manager API is on; with CMEK the Cloud Storage agent may use the key', async () => {
  const config = await configPromise;
  for (const type of ['google_pubsub_topic', 'google_pubsub_subscription']) {
    for (const [name, block] of Object.entries(config.resource[type] ?? {})) {
      assert.ok(JSON.stringify(block.depends_on ?? []).includes('google_project_service.apis'), `${type}.${name} does not wait for the APIs to be enabled`);
    }
  }
  assert.ok(JSON.stringify(config.locals.apis).includes('cloudresourcemanager.googleapis.com'));
  const cmek = config.resource.google_kms_crypto_key_iam_member?.gcs_agent_cmek;
  assert.equal(cmek?.role, 'roles/cloudkms.cryptoKeyEncrypterDecrypter');
  assert.match(String(cmek?.member), /google_storage_project_service_account\.gcs\.email_address/);
  for (const [name, bucket] of Object.entries(config.resource.google_storage_bucket ?? {})) {
    if (!JSON.stringify(bucket).includes('kms_key_name')) continue;
    assert.ok(JSON.stringify(bucket.depends_on ?? []).includes('google_kms_crypto_key_iam_member.gcs_agent_cmek'), `bucket ${name} is created before the agent may use its key`);
  }
});

test('every function is built by its own build identity into our own image repository; the tuning agent may read the training data', async () => {
  const config = await configPromise;
  for (const [id, fn] of Object.entries(config.resource.google_cloudfunctions2_function!)) {
    const build = first(fn.build_config);
    assert.equal(build.service_account, '${google_service_account.sa["builder"].id}', `${id}: built as the builder identity`);
    assert.equal(build.docker_repository, '${google_artifact_registry_repository.functions.id}', `${id}: images in our repository`);
  }
  const pushes = config.resource.google_artifact_registry_repository_iam_member!.builder_pushes!;
  assert.deepEqual([pushes.role, pushes.member], ['roles/artifactregistry.writer', '${local.sa.builder}']);
  // TuningJob.service_account (tuning_job.proto): unset, the job runs as the Secure Fine-Tuning Service Agent.
  const reads = config.resource.google_storage_bucket_iam_member!.tuning_agent_reads!;
  assert.equal(reads.role, 'roles/storage.objectViewer');
  assert.equal(reads.member, '${local.tuning_agent}');
  assert.match(String(config.locals.tuning_agent), /service-\$\{data\.google_project\.this\.number\}@gcp-sa-vertex-tune\.iam\.gserviceaccount\.com/);
  assert.match(String(reads.for_each), /var\.vertex_tuning_agent_access/);
});
