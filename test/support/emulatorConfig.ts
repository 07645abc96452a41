/** A Microsoft-emulator-shaped Config.json with the given queues (properties overridable per queue). */
export function emulatorConfig(queues: Record<string, Record<string, unknown>>) {
  return {
    UserConfig: {
      Namespaces: [
        {
          Name: 'sbemulatorns',
          Queues: Object.entries(queues).map(([Name, properties]) => ({
            Name,
            Properties: {
              DeadLetteringOnMessageExpiration: false,
              DefaultMessageTimeToLive: 'PT1H',
              DuplicateDetectionHistoryTimeWindow: 'PT20S',
              ForwardDeadLetteredMessagesTo: '',
              ForwardTo: '',
              LockDuration: 'PT30S',
              MaxDeliveryCount: 10,
              RequiresDuplicateDetection: false,
              RequiresSession: false,
              ...properties,
            },
          })),
          Topics: [],
        },
      ],
      Logging: { Type: 'Console' },
    },
  };
}
