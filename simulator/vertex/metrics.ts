import { createHash } from 'node:crypto';

/**
 * The Vertex AI SIMULATOR's training metrics: made-up but deterministic curves for a simulated
 * tuning job, served through the same resources the real service uses (the job's experiment
 * context → its backing TensorBoard → the experiment's runs → time series → exported points).
 * The numbers mean nothing about any model; they exist so the pipeline's metrics reader, its
 * Firestore writes and the dashboard can be tested against real REST calls.
 */
export const TENSORBOARD_ID = 'simulated-tensorboard';

export interface SeriesSpec {
  id: string;
  /** The metric name as Vertex writes it for Gemini tuning (the TensorBoard tag). */
  displayName: string;
  every: number;
  value: (step: number, steps: number, noise: number) => number;
}

const TRAIN: SeriesSpec[] = [
  { id: '1', displayName: '/train_total_loss', every: 1, value: (s, n, e) => 2.1 * Math.exp((-3 * s) / n) + 0.3 + 0.04 * e },
  {
    id: '2',
    displayName: '/train_fraction_of_correct_next_step_preds',
    every: 1,
    value: (s, n, e) => Math.min(0.98, 0.45 + 0.45 * (1 - Math.exp((-3 * s) / n)) + 0.01 * e),
  },
  { id: '3', displayName: '/train_num_predictions', every: 1, value: () => 1024 },
];
const EVAL: SeriesSpec[] = [
  { id: '4', displayName: '/eval_total_loss', every: 5, value: (s, n, e) => 2.2 * Math.exp((-2.5 * s) / n) + 0.45 + 0.03 * e },
  {
    id: '5',
    displayName: '/eval_fraction_of_correct_next_step_preds',
    every: 5,
    value: (s, n, e) => Math.min(0.95, 0.42 + 0.4 * (1 - Math.exp((-2.5 * s) / n)) + 0.01 * e),
  },
  { id: '6', displayName: '/eval_num_predictions', every: 5, value: () => 256 },
];

export function seriesFor(hasValidation: boolean): SeriesSpec[] {
  return hasValidation ? [...TRAIN, ...EVAL] : TRAIN;
}

/** Total steps: 20 per epoch (3 epochs when the request leaves it to Vertex). */
export function totalSteps(epochCount: number | undefined): number {
  return 20 * (epochCount ?? 3);
}

/** Noise in [-1, 1], the same for the same job, series and step. */
function noise(jobId: string, seriesId: string, step: number): number {
  const digest = createHash('sha256').update(`${jobId}/${seriesId}/${step}`).digest();
  return (digest.readUInt16BE(0) / 0xffff) * 2 - 1;
}

/** The points of one series up to `progress` (0..1 of the run), each at its step's wall time. */
export function seriesPoints(spec: SeriesSpec, jobId: string, steps: number, progress: number, startMs: number, runMs: number) {
  const points: { step: string; wallTime: string; scalar: { value: number } }[] = [];
  const last = Math.floor(steps * Math.max(0, Math.min(1, progress)));
  for (let step = spec.every; step <= last; step += spec.every) {
    const value = Number(spec.value(step, steps, noise(jobId, spec.id, step)).toFixed(6));
    points.push({ step: String(step), wallTime: new Date(startMs + (runMs * step) / steps).toISOString(), scalar: { value } });
  }
  return points;
}
