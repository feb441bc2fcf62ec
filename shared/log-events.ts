/**
 * Every structured log event the pipeline writes, named in one place so that log-based
 * metrics and alerts in Cloud Logging can rely on the names. Add new events here, grouped by
 * component; the value is what appears as `event` in the log entry.
 */
export const LogEvent = {
  // converter
  conversionStarted: 'conversion.started',
  conversionFinished: 'conversion.finished',
  conversionRejected: 'conversion.rejected',
  objectIgnored: 'conversion.object_ignored',
  conversionDuplicate: 'conversion.duplicate',
  launchPublished: 'conversion.launch_published',
  launchSkipped: 'conversion.launch_skipped',
  // launcher
  launchReceived: 'launch.received',
  launchRejected: 'launch.rejected',
  modelNotInCatalogue: 'launch.model_not_in_catalogue',
  modelRetiringSoon: 'launch.model_retiring_soon',
  continuationUnchecked: 'launch.continuation_unchecked',
  runClaimed: 'launch.run_claimed',
  runDuplicate: 'launch.run_duplicate',
  tuningJobCreated: 'launch.tuning_job_created',
  tuningJobAdopted: 'launch.tuning_job_adopted',
  tuningJobFailed: 'launch.tuning_job_failed',
  datasetsMerged: 'launch.datasets_merged',
  duplicateJobCancelled: 'vertex.duplicate_job_cancelled',
  launchDeadLettered: 'launch.dead_lettered',
  // poller
  pollTickFinished: 'poll.tick_finished',
  pollRunUpdated: 'poll.run_updated',
  pollRunResubmitted: 'poll.run_resubmitted',
  pollStageAdvanced: 'poll.stage_advanced',
  runQueued: 'launch.run_queued',
  launchRecovered: 'launch.recovered',
  queuedRunAdmitted: 'admission.run_admitted',
  pollCancelledJobSettled: 'poll.cancelled_job_settled',
  pollCancelledJobAdopted: 'poll.cancelled_job_adopted',
  pollRunFailed: 'poll.run_failed',
  pollVertexError: 'poll.vertex_error',
  runEventPublishFailed: 'poll.event_publish_failed',
  // completion handler
  completionIgnored: 'completion.ignored',
  completionDuplicate: 'completion.duplicate',
  completionRetry: 'completion.retry',
  completionFailed: 'completion.failed',
  metricsCopied: 'completion.metrics_copied',
  metricsReadFailed: 'completion.metrics_read_failed',
  metricsSinkFailed: 'completion.metrics_sink_failed',
  evaluationInputBuilt: 'completion.evaluation_input_built',
  batchJobCreated: 'completion.batch_job_created',
  batchRefused: 'completion.batch_refused',
  onlinePartWritten: 'completion.online_part_written',
  onlineHandedOver: 'completion.online_handed_over',
  evaluationScored: 'completion.evaluation_scored',
  evaluationJudgeFailed: 'completion.evaluation_judge_failed',
  // poller, evaluation stage
  pollBatchResubmitted: 'poll.batch_resubmitted',
  stageEventResent: 'poll.stage_event_resent',
  // vertex calls (any component)
  vertexRetry: 'vertex.retry',
  // simulator
  simulatorRequest: 'simulator.request',
  simulatorJobTransition: 'simulator.job_transition',
  // process lifecycle
  configInvalid: 'config.invalid',
  handlerError: 'handler.error',
} as const;

export type LogEventName = (typeof LogEvent)[keyof typeof LogEvent];
