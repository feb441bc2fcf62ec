/** The labels that tie a Vertex job to its run and attempt, so a retry finds the job instead of making another. */
export const RUN_ID_LABEL = 'sft_run_id';
export const ATTEMPT_LABEL = 'sft_attempt';
