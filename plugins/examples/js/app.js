// json-number: an Aviary metric provider, in JavaScript. It reads a JSON document over HTTP and
// returns the number found at `path`, for the metric's successCondition to judge.
//
// jco (with componentize-js) turns this one module into a component of the `metric-provider` world of
// the WIT in wit/: the import below is that WIT's `http` interface, and the exported functions
// are the world's exports. Keep it one file: componentize-js does not bundle other modules.
import { send } from 'aviary:plugin/http@0.1.0';

class MeasurementError extends Error {}

export function measure(context, config) {
  try {
    const value = take(parseConfig(config));
    return measurement('measured', toJson(value), '');
  } catch (e) {
    if (e instanceof MeasurementError) return measurement('error', undefined, e.message);
    throw e;
  }
}

export function resume(context, config, m) {
  return measurement('error', undefined, 'this provider does not take asynchronous measurements');
}

export function terminate(context, config, m) {
  return { ...m, phase: 'successful', message: 'Metric Terminated', resumeAfterMs: undefined };
}

/** The JSON under `provider.plugin.<name>` in an AnalysisTemplate. */
function parseConfig(text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new MeasurementError(`invalid config: ${e.message}`);
  }
  if (typeof raw?.url !== 'string') throw new MeasurementError('invalid config: missing field `url`');
  return { url: raw.url, path: raw.path ?? 'value', headers: raw.headers ?? {} };
}

function take(config) {
  const [status, body] = get(config.url, { Accept: 'application/json', ...config.headers });
  if (status < 200 || status >= 300) throw new MeasurementError(`GET ${config.url}: HTTP ${status}`);
  let doc;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    throw new MeasurementError(`GET ${config.url}: the body is not JSON: ${e.message}`);
  }
  const number = numberAt(doc, config.path);
  if (number === undefined) throw new MeasurementError(`no number at ${config.path}`);
  return number;
}

/** The number at `path` (keys and array indices separated by dots), or undefined. */
export function numberAt(doc, path) {
  let at = doc;
  for (const key of path.split('.').filter((k) => k !== '')) {
    if (Array.isArray(at) && /^\d+$/.test(key)) at = at[Number(key)];
    else if (at !== null && typeof at === 'object' && !Array.isArray(at) && Object.hasOwn(at, key)) at = at[key];
    else return undefined;
  }
  if (typeof at === 'number') return at;
  if (typeof at === 'string' && at.trim() !== '' && !Number.isNaN(Number(at))) return Number(at);
  return undefined;
}

// GET through the host: the only network a plugin has, and only to its allowed hosts.
function get(url, headers) {
  let response;
  try {
    response = send({ method: 'GET', url, headers: Object.entries(headers), body: undefined, timeoutMs: undefined });
  } catch (e) {
    throw new MeasurementError(describe(e.payload ?? e));
  }
  return [response.status, new TextDecoder().decode(response.body)];
}

function describe(error) {
  switch (error?.tag) {
    case 'denied-host':
      return `denied host: ${error.val} is not in the plugin's allowed hosts`;
    case 'timeout':
      return 'timeout';
    case 'too-large':
      return `response too large: over ${error.val} bytes`;
    case 'transport':
      return `transport error: ${error.val}`;
    default:
      return `transport error: ${String(error)}`;
  }
}

function measurement(phase, value, message) {
  return { phase, value, message, metadata: [], resumeAfterMs: undefined };
}

/** The value as Aviary's extended JSON (NaN and the infinities are bare tokens). */
function toJson(number) {
  if (Number.isNaN(number)) return 'NaN';
  if (number === Infinity) return 'Infinity';
  if (number === -Infinity) return '-Infinity';
  return JSON.stringify(number);
}
