import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_ADMISSION, decideAcquire, nextToAdmit, queuePosition, type Admission } from '../../../shared/runs/admission.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 9, minute)).toISOString();
const entry = (runId: string, minute: number, priority = 0) => ({ runId, priority, enqueuedAt: at(minute) });

test('one slot: the first run takes it, the next wait in arrival order, each told its place', () => {
  let admission: Admission = EMPTY_ADMISSION;
  const first = decideAcquire(admission, entry('a', 0), 1, at(0));
  assert.equal(first.status, 'acquired');
  admission = first.admission;
  const second = decideAcquire(admission, entry('b', 1), 1, at(1));
  assert.deepEqual(second.status === 'queued' && [second.position, second.ahead], [1, 0]);
  admission = second.admission;
  const third = decideAcquire(admission, entry('c', 2), 1, at(2));
  assert.deepEqual(third.status === 'queued' && [third.position, third.ahead], [2, 1]);
  admission = third.admission;
  assert.equal(decideAcquire(admission, entry('a', 0), 1, at(3)).status, 'acquired', 'a holder asking again keeps its slot (a redelivery)');
  assert.deepEqual(decideAcquire(admission, entry('c', 2), 1, at(3)).admission, admission, 'a queued run asking again changes nothing');
});

test('priority goes first, then arrival; a freed slot goes to the head of the line, not to whoever asks', () => {
  let admission: Admission = { ...EMPTY_ADMISSION, holders: [{ runId: 'busy', since: at(0) }] };
  for (const [runId, minute, priority] of [
    ['low', 1, 0],
    ['urgent', 2, 5],
    ['later', 3, 0],
  ] as const) {
    admission = decideAcquire(admission, entry(runId, minute, priority), 1, at(minute)).admission;
  }
  assert.deepEqual(
    [queuePosition(admission, 'urgent'), queuePosition(admission, 'low'), queuePosition(admission, 'later')],
    [
      { position: 1, of: 3 },
      { position: 2, of: 3 },
      { position: 3, of: 3 },
    ],
  );
  const freed = { ...admission, holders: [] };
  assert.deepEqual(
    nextToAdmit(freed, 1).map((e) => e.runId),
    ['urgent'],
  );
  assert.equal(decideAcquire(freed, entry('later', 3), 1, at(4)).status, 'queued', 'not the head: it waits');
  const taken = decideAcquire(freed, entry('urgent', 2, 5), 1, at(4));
  assert.equal(taken.status, 'acquired');
  assert.deepEqual(
    taken.admission.queue.map((e) => e.runId),
    ['low', 'later'],
  );
  assert.deepEqual(nextToAdmit(taken.admission, 1), [], 'no free slot left');
  assert.deepEqual(
    nextToAdmit({ ...taken.admission, holders: [] }, 3).map((e) => e.runId),
    ['low', 'later'],
  );
});
