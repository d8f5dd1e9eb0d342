export interface PublishResult {
  /** Stream sequence, when the event reached the stream now. */
  seq?: number;
  /** JetStream had already stored this id (a retry inside the duplicate window). */
  duplicate?: boolean;
  /** The bus was unreachable: the event waits in the local outbox and is sent on reconnect. */
  queued?: boolean;
}
