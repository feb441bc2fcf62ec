import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../shared/log.ts';
import { LogEvent } from '../../../shared/log-events.ts';

test('log entries are one JSON object per line in the Cloud Logging shape', () => {
  const lines: string[] = [];
  const logger = createLogger('launcher', { level: 'INFO', sink: { write: (line) => lines.push(line) } });
  logger.child({ runId: 'r1' }).warn(LogEvent.runDuplicate, 'already claimed', { error: new Error('boom') });
  logger.debug(LogEvent.launchReceived, 'below the level: dropped');
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!);
  assert.equal(entry.severity, 'WARNING');
  assert.equal(entry.message, 'already claimed');
  assert.equal(entry.event, 'launch.run_duplicate');
  assert.equal(entry.component, 'launcher');
  assert.equal(entry.runId, 'r1');
  assert.equal(entry.error.message, 'boom');
});
