import type { PubSub } from '@google-cloud/pubsub';
import { launchMessageSchema, type LaunchMessageInput } from '../../shared/launch/schema.ts';

export interface LaunchPublisher {
  /** Publishes a launch message (validated first) and returns its Pub/Sub message id. */
  publish(message: LaunchMessageInput): Promise<string>;
}

export function createLaunchPublisher(pubsub: PubSub, topicName: string): LaunchPublisher {
  const topic = pubsub.topic(topicName);
  return {
    async publish(message) {
      const valid = launchMessageSchema.parse(message);
      return topic.publishMessage({ json: valid, attributes: { schemaVersion: '1', source: valid.source } });
    },
  };
}
