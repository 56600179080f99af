// A fake of the host's `http` and `log` imports, for tests under Node.
export const host = { responses: {} };

export function send(request) {
  const answer = host.responses[request.url];
  if (!answer) {
    const error = new Error(`no response for ${request.url}`);
    error.payload = { tag: 'denied-host', val: new URL(request.url).host };
    throw error;
  }
  const body = new TextEncoder().encode(JSON.stringify(answer.json));
  return { status: answer.status, headers: [['content-type', 'application/json']], body };
}

export function log(level, message) {
  console.error(`[${level}] ${message}`);
}
