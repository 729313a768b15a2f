import type { DeliveryPath, Telemetry } from '../../src/service/telemetry.js';

/** A Telemetry that keeps every observation, for asserting that the hooks fire. */
export class RecordingTelemetry implements Telemetry {
  readonly requests: { command: string; seconds: number }[] = [];
  readonly appends: number[] = [];
  readonly batches: { messages: number; seconds: number }[] = [];
  readonly busReceipts: number[] = [];
  readonly deliveries: { path: DeliveryPath; acceptedAtMs: number }[] = [];

  requestHandled(command: string, seconds: number): void {
    this.requests.push({ command, seconds });
  }
  messageAppended(seconds: number): void {
    this.appends.push(seconds);
  }
  appendBatchWritten(messages: number, seconds: number): void {
    this.batches.push({ messages, seconds });
  }
  busEventReceived(publishedAtMs: number): void {
    this.busReceipts.push(publishedAtMs);
  }
  messageDelivered(path: DeliveryPath, acceptedAtMs: number): void {
    this.deliveries.push({ path, acceptedAtMs });
  }
}
