import type { PubSub } from '@google-cloud/pubsub';
import { runEventSchema, type RunEvent } from '../../shared/runs/events.ts';

export interface RunEventPublisher {
  publish(event: RunEvent): Promise<void>;
}

/** Publishes run events as JSON, with the run id and states as attributes for subscription filters. */
export function createRunEventPublisher(pubsub: PubSub, topicName: string): RunEventPublisher {
  const topic = pubsub.topic(topicName);
  return {
    async publish(event) {
      const valid = runEventSchema.parse(event);
      await topic.publishMessage({ json: valid, attributes: { runId: valid.runId, to: valid.to, schemaVersion: '1' } });
    },
  };
}
