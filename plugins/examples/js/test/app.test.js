// Runs app.js under Node with a fake host: test/register.js maps the WIT imports
// (`aviary:plugin/...`) to test/host.js, whose `send` answers from `host.responses`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { measure } from '../app.js';
import { host } from './host.js';

const context = { namespace: 'default', runName: 'run', metricName: 'm' };
const config = JSON.stringify({ url: 'http://metrics.example/stats', path: 'data.0.hits' });

test('the number at path is the measured value', () => {
  host.responses = { 'http://metrics.example/stats': { status: 200, json: { data: [{ hits: 42 }] } } };
  assert.deepEqual(measure(context, config), { phase: 'measured', value: '42', message: '', metadata: [], resumeAfterMs: undefined });
  host.responses = { 'http://metrics.example/stats': { status: 200, json: { data: [] } } };
  assert.equal(measure(context, config).message, 'no number at data.0.hits');
  host.responses = { 'http://metrics.example/stats': { status: 500, json: {} } };
  assert.equal(measure(context, config).message, 'GET http://metrics.example/stats: HTTP 500');
});
