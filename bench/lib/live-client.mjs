/**
 * The client side of a live conversation for benchmarks: a WebSocket into
 * `GET /api/v1/conversations/{id}/ws` (Node's built-in WebSocket), authenticated the way a
 * browser does it, with the `kyrochat` and `kyrochat.bearer.<token>` subprotocols.
 */

const wsUrl = (baseUrl, conversationId) => {
  const url = new URL(`/api/v1/conversations/${conversationId}/ws`, baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
};

/**
 * Opens a socket into a conversation's room.
 * @returns {Promise<{ socket: WebSocket, ask: (text: string, timeoutMs: number) => Promise<{ ms: number, message: any }>, ping: (timeoutMs: number) => Promise<number>, close: () => Promise<void> }>}
 */
export function openRoom(baseUrl, token, conversationId, { timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(baseUrl, conversationId), ['kyrochat', `kyrochat.bearer.${token}`]);
    const listeners = new Set();
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`socket into ${conversationId} did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      for (const listener of listeners) listener(frame);
    });
    const started = performance.now();
    socket.addEventListener('error', () => {
      clearTimeout(timer);
      reject(new Error(`socket into ${conversationId} failed to open (after ${Math.round(performance.now() - started)} ms)`));
    });
    socket.addEventListener('open', () => {
      clearTimeout(timer);
      resolve({ socket, ask, ping, close });
    });

    /** Sends a message and resolves with the answer's stored message (the first assistant message after it). */
    function ask(text, answerTimeoutMs) {
      return new Promise((resolveAsk, rejectAsk) => {
        const clientMessageId = `bench-${Math.random().toString(36).slice(2, 12)}`;
        const started = performance.now();
        let userMessageSeen = false;
        const finish = (fn, value) => {
          clearTimeout(answerTimer);
          listeners.delete(onFrame);
          socket.removeEventListener('close', onClose);
          fn(value);
        };
        const onFrame = (frame) => {
          if (frame.type === 'error') finish(rejectAsk, new Error(`error frame ${frame.code}: ${frame.detail}`));
          else if (frame.type === 'message' && frame.message?.role === 'user' && frame.message.content === text) userMessageSeen = true;
          else if (frame.type === 'message' && frame.message?.role === 'assistant' && userMessageSeen) {
            // A failed turn stores (and broadcasts) an assistant message carrying the error.
            if (frame.message.error) finish(rejectAsk, new Error(`answer failed: ${frame.message.error.code}`));
            else finish(resolveAsk, { ms: performance.now() - started, message: frame.message });
          }
        };
        const onClose = (event) => finish(rejectAsk, new Error(`socket closed (${event.code} ${event.reason}) before the answer`));
        const answerTimer = setTimeout(() => finish(rejectAsk, new Error(`no answer within ${answerTimeoutMs} ms`)), answerTimeoutMs);
        listeners.add(onFrame);
        socket.addEventListener('close', onClose);
        socket.send(JSON.stringify({ type: 'message', text, clientMessageId }));
      });
    }

    /** A `ping` frame answered by `pong`: the socket and its room are alive. */
    function ping(timeoutMs) {
      return new Promise((resolvePing, rejectPing) => {
        const started = performance.now();
        const onFrame = (frame) => {
          if (frame.type !== 'pong') return;
          clearTimeout(timer);
          listeners.delete(onFrame);
          resolvePing(performance.now() - started);
        };
        const timer = setTimeout(() => {
          listeners.delete(onFrame);
          rejectPing(new Error(`no pong within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(onFrame);
        socket.send(JSON.stringify({ type: 'ping' }));
      });
    }

    function close() {
      return new Promise((resolveClose) => {
        if (socket.readyState === WebSocket.CLOSED) return resolveClose();
        socket.addEventListener('close', () => resolveClose(), { once: true });
        socket.close(1000, 'bench done');
        // A server that never answers the close must not hang the benchmark.
        setTimeout(resolveClose, 2_000).unref?.();
      });
    }
  });
}
