import { z } from 'zod';

/**
 * The CloudEvent data Eventarc delivers for a Pub/Sub message
 * (`google.cloud.pubsub.topic.v1.messagePublished`): the message with base64 data.
 * https://cloud.google.com/eventarc/docs/cloudevents#pubsub
 */
export const pubsubMessagePublishedSchema = z.object({
  message: z.object({
    data: z.string().optional(),
    messageId: z.string().min(1),
    attributes: z.record(z.string(), z.string()).optional(),
    publishTime: z.string().optional(),
  }),
  subscription: z.string().optional(),
  /**
   * Which delivery this is (1 for the first), sent by Pub/Sub only when the subscription has a
   * dead-letter policy: the launcher records how close a failing message is to the dead-letter topic.
   */
  deliveryAttempt: z.number().int().positive().optional(),
});
export type PubsubMessagePublished = z.infer<typeof pubsubMessagePublishedSchema>;

/** The message's JSON payload (with the text it came as), or why it has none. */
export function decodeMessageData(envelope: PubsubMessagePublished): { json: unknown; raw: string } | { problem: string; raw: string } {
  const raw = envelope.message.data === undefined ? '' : Buffer.from(envelope.message.data, 'base64').toString('utf8');
  if (raw.trim() === '') return { problem: 'the message has no data', raw };
  try {
    return { json: JSON.parse(raw), raw };
  } catch (error) {
    return { problem: `the message data is not JSON: ${error instanceof Error ? error.message : String(error)}`, raw };
  }
}
