// Shared by the Node test clients (tasks_requester.mjs, tests/apps/live_view_host.mjs): no imports.
//
// The host's request coordinator, which the task session needs at 2026-07-28 (its `rawDispatch`):
// the SDK client's codecs refuse `resultType: "task"`, so task traffic goes over the same
// transport as raw JSON-RPC, with ids of its own, and its answers never reach the client.
export class Coordinated {
  constructor(inner) {
    this.inner = inner;
    this.pending = new Map();
    this.next = 0;
    inner.onmessage = (message, extra) => {
      const waiter = message.id !== undefined ? this.pending.get(message.id) : undefined;
      if (waiter !== undefined && !("method" in message)) {
        this.pending.delete(message.id);
        waiter(message);
        return;
      }
      this.onmessage?.(message, extra);
    };
    inner.onerror = (error) => this.onerror?.(error);
    inner.onclose = () => {
      for (const waiter of this.pending.values()) waiter({ error: { code: -32000, message: "closed" } });
      this.pending.clear();
      this.onclose?.();
    };
  }

  get sessionId() {
    return this.inner.sessionId;
  }

  get hasPerRequestStream() {
    return this.inner.hasPerRequestStream;
  }

  start() {
    return this.inner.start();
  }

  send(message, options) {
    return this.inner.send(message, options);
  }

  close() {
    return this.inner.close();
  }

  setProtocolVersion(version) {
    this.inner.setProtocolVersion?.(version);
  }

  setSupportedProtocolVersions(versions) {
    this.inner.setSupportedProtocolVersions?.(versions);
  }

  dispatch = async (request, options = {}) => {
    const id = `raw-${++this.next}`;
    const answered = new Promise((resolve) => this.pending.set(id, resolve));
    const headers = options.context?.headers;
    await this.inner.send({ jsonrpc: "2.0", id, ...request }, headers ? { headers } : undefined);
    const message = await answered;
    return "error" in message ? { kind: "error", error: message.error } : { kind: "result", result: message.result };
  };
}
