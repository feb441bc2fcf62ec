import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';

/**
 * What Eventarc does for a Pub/Sub trigger, on one machine: pull from a subscription, deliver
 * each message to a function as a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent
 * (binary content mode), and acknowledge only on 2xx, so a failed delivery comes again.
 */
export async function relayToFunction(
  pubsub: PubSub,
  subscriptionName: string,
  topicName: string,
  functionUrl: string,
  projectId: string,
): Promise<Subscription> {
  const subscription = pubsub.subscription(subscriptionName, { flowControl: { maxMessages: 20 } });
  subscription.on('message', (message: Message) => {
    void deliver(message);
  });
  subscription.on('error', (error) => console.error(`relay ${subscriptionName}: ${error.message}`));
  async function deliver(message: Message) {
    try {
      const response = await fetch(functionUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-id': message.id,
          'ce-specversion': '1.0',
          'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
          'ce-source': `//pubsub.googleapis.com/projects/${projectId}/topics/${topicName}`,
          'ce-time': message.publishTime.toISOString(),
        },
        body: JSON.stringify({
          message: {
            data: message.data.toString('base64'),
            messageId: message.id,
            attributes: message.attributes,
            publishTime: message.publishTime.toISOString(),
          },
          subscription: `projects/${projectId}/subscriptions/${subscriptionName}`,
          // Pub/Sub numbers deliveries when the subscription has a dead-letter policy, as the push payload does.
          ...(message.deliveryAttempt ? { deliveryAttempt: message.deliveryAttempt } : {}),
        }),
      });
      if (response.ok) message.ack();
      else message.nack();
    } catch {
      message.nack();
    }
  }
  return subscription;
}
