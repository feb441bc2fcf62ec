/** The pipeline commands' help text, apart from their code so `sft-pipeline convert` never loads the cloud clients. */
export const PIPELINE_USAGE = `usage:
  sft-pipeline upload FILE [--launch SPEC.json] [--name NAME]   upload a dataset (and its launch sidecar) to the raw bucket
  sft-pipeline launch SPEC.json                                 publish a launch message
  sft-pipeline status [RUN_ID] [--watch] [--json] [--experiment E] [--state S]
  sft-pipeline cancel RUN_ID [--reason TEXT]                    cancel a run and its Vertex jobs
  sft-pipeline retry RUN_ID                                     send a stranded launch (ACCEPTED or QUEUED, no job) to the launcher again
  sft-pipeline examples RUN_ID [--verdict better|worse|same] [--csv]
                                                                every held-out example side by side (prompt, reference, answers, scores)

where the pipeline is (flags, else environment):
  --project      GOOGLE_CLOUD_PROJECT      --location  GOOGLE_CLOUD_LOCATION (us-central1)
  --raw-bucket   RAW_BUCKET                --prefix    INPUT_PREFIX (incoming/)
  --launch-topic LAUNCH_TOPIC (launch)     --run-events-topic RUN_EVENTS_TOPIC (run-events)
  emulators and the simulator: FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, STORAGE_EMULATOR_HOST, VERTEX_BASE_URL`;
