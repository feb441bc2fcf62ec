import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { OnlinePredictor, OnlineRequest } from '../../adapters/vertex/online.ts';
import type { CompletionStore } from '../../adapters/firestore/completion-store.ts';
import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';
import {
  claimOnlineTrack,
  continuationEvent,
  onlinePartCount,
  onlinePartUri,
  onlineProgressed,
  withEvaluationJobs,
  withOnlineReleased,
} from '../../shared/evaluation/online.ts';
import { armsOf, type Evaluation, type EvaluationArm } from '../../shared/evaluation/schema.ts';
import type { Logger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import type { RunDocument } from '../../shared/runs/schema.ts';
import { mapConcurrently } from '../../shared/concurrency.ts';

export interface OnlineDeps {
  store: Pick<CompletionStore, 'update'>;
  objects: ObjectStore;
  predictor: OnlinePredictor;
  log: Logger;
  now: () => number;
  /** Requests in flight at once, per delivery. */
  concurrency: number;
  /** How long one delivery works before handing over (under the function's timeout). */
  budgetMs: number;
  leaseMs: number;
}

export type OnlineOutcome =
  { status: 'skipped'; reason: string } | { status: 'done' | 'handed-over'; partsWritten: number; run: RunDocument };

type Which = EvaluationArm;

/**
 * Carries a run's online evaluation on: for each model in online mode, the parts not yet written
 * are sent (bounded concurrency), each written create-once as a prediction file, progress and
 * lease renewed after each. Past its time budget the delivery releases the tracks and queues a
 * continuation event, so the next delivery carries on from the first missing part. Safe to run
 * twice: a part another delivery wrote is kept, and the track's lease keeps two from working at once.
 */
export async function continueOnlineEvaluation(runId: string, holder: string, deps: OnlineDeps): Promise<OnlineOutcome> {
  const started = deps.now();
  const claimed: Which[] = [];
  const skips: string[] = [];
  const run = await deps.store.update(runId, (current) => {
    claimed.length = 0;
    skips.length = 0;
    if (current.state !== 'EVALUATING' || !current.evaluation) return null;
    const jobs = { ...current.evaluation.jobs };
    for (const which of armsOf(current.evaluation)) {
      const claim = claimOnlineTrack(jobs[which]!, holder, deps.now(), deps.leaseMs);
      if ('claimed' in claim) {
        jobs[which] = claim.claimed;
        claimed.push(which);
      } else skips.push(`${which}: ${claim.skip}`);
    }
    return claimed.length ? { ...current, evaluation: { ...current.evaluation, jobs } } : null;
  });
  if (!run || claimed.length === 0) return { status: 'skipped', reason: skips.join('; ') || 'the run is not evaluating' };
  const log = deps.log.child({ runId, holder });

  let written = 0;
  let latest = run;
  // Held in memory: the input has at most EVALUATION_MAX_EXAMPLES requests (5,000 by default).
  const requests = await readRequests(deps.objects, run.evaluation!.inputUri);
  for (const which of claimed) {
    const track = latest.evaluation!.jobs[which]!;
    const parts = onlinePartCount(track.online!);
    for (let part = 0; part < parts; part++) {
      // Every delivery sends at least one part, so progress never stalls on a tight budget.
      if (written > 0 && deps.now() - started > deps.budgetMs) return handOver(runId, holder, written, deps, log);
      const uri = onlinePartUri(track.outputDirectory!, part);
      if (!(await deps.objects.stat(uri))) {
        const slice = requests.slice(part * track.online!.partSize, (part + 1) * track.online!.partSize);
        const lines = await mapConcurrently(slice, deps.concurrency, (request) => deps.predictor.predict(track.online!.target, request));
        // Create-once: a part another delivery wrote first stays as it is.
        await deps.objects.write(uri, lines.map((line) => JSON.stringify(line) + '\n').join(''), {
          contentType: 'application/jsonl',
          ifAbsent: true,
        });
        written += 1;
        log.info(LogEvent.onlinePartWritten, `${which} model: part ${part + 1} of ${parts} (${slice.length} requests) written`, { uri });
      }
      const after = await deps.store.update(runId, (current) => {
        const mine = current.evaluation?.jobs[which];
        if (current.state !== 'EVALUATING' || !mine || mine.online?.holder !== holder) return null;
        return withEvaluationJobs(
          current,
          {
            ...current.evaluation!.jobs,
            [which]: onlineProgressed(mine, part + 1, holder, deps.now(), deps.leaseMs),
          } as Evaluation['jobs'],
          new Date(deps.now()).toISOString(),
        );
      });
      if (!after) return { status: 'skipped', reason: 'the run moved on, or another delivery took the track over' };
      latest = after;
    }
  }
  return { status: 'done', partsWritten: written, run: latest };
}

async function handOver(runId: string, holder: string, written: number, deps: OnlineDeps, log: Logger): Promise<OnlineOutcome> {
  const nowIso = new Date(deps.now()).toISOString();
  const after = await deps.store.update(runId, (current) => {
    if (current.state !== 'EVALUATING' || !current.evaluation) return null;
    const released = withOnlineReleased(current, holder, nowIso);
    return {
      ...released,
      pendingEvents: [
        ...(released.pendingEvents ?? []),
        continuationEvent(released, 'online evaluation requests: carried on by the next delivery', nowIso),
      ],
    };
  });
  log.info(LogEvent.onlineHandedOver, `time budget used after ${written} parts; the next delivery carries on`);
  if (!after) return { status: 'skipped', reason: 'the run moved on' };
  return { status: 'handed-over', partsWritten: written, run: after };
}

async function readRequests(objects: ObjectStore, inputUri: string): Promise<OnlineRequest[]> {
  const requests: OnlineRequest[] = [];
  for await (const record of readJsonLines(objects.read(inputUri))) {
    if ('code' in record) throw new Error(`${inputUri} line ${record.line}: ${record.message}`);
    requests.push((record.value as { request: OnlineRequest }).request);
  }
  return requests;
}
