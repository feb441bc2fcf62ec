import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isPublicAddress } from '../../../adapters/http/address-policy.ts';
import { downloadToStorage } from '../../../adapters/http/media-download.ts';
import { pinnedFetch } from '../../../adapters/http/pinned-fetch.ts';

const fixtures = new URL('../../fixtures/tls/', import.meta.url);
const cert = readFileSync(new URL('media.example.com.crt', fixtures), 'utf8');
const key = readFileSync(new URL('media.example.com.key', fixtures), 'utf8');

test('media are fetched only from where the address policy allowed, checked as the socket connects: a DNS answer that turns private between check and connection is refused', async () => {
  const requests: string[] = [];
  const server = createServer({ key, cert }, (request, response) => {
    requests.push(request.url ?? '');
    response.end('the bytes of a cat');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://media.example.com:${(server.address() as AddressInfo).port}/cat.png`;
  try {
    // A policy that allows this loopback server stands for a public host: the request gets through, TLS checked.
    const allowed = await pinnedFetch({ allows: () => true, resolve: async () => ['127.0.0.1'] }, { ca: cert })(url);
    assert.equal(allowed.status, 200);
    assert.equal(await allowed.text(), 'the bytes of a cat');

    // DNS rebinding: the name is public when the download checks it and loopback when it connects.
    let answers = 0;
    const rebinding = { allows: isPublicAddress, resolve: async () => (answers++ === 0 ? ['93.184.215.14'] : ['127.0.0.1']) };
    // The object store is never reached: the download fails before anything is written.
    const result = await downloadToStorage(url, 'gs://datasets/media/cat.png', {
      objects: {} as never,
      contentType: 'image/png',
      maxBytes: 1024,
      timeoutMs: 5000,
      addresses: rebinding,
    });
    assert.ok('failure' in result, JSON.stringify(result));
    assert.match(result.failure, /could not fetch it: .*resolves to 127\.0\.0\.1: media are fetched only from public hosts/);
    assert.equal(answers, 2, 'checked once by the download, once more by the connection');
    assert.deepEqual(requests, ['/cat.png'], 'only the allowed request reached the server');

    // Plain http is never fetched, whatever the caller asks.
    await assert.rejects(
      pinnedFetch({ allows: () => true, resolve: async () => ['127.0.0.1'] })('http://media.example.com/cat.png'),
      /only https is fetched/,
    );
  } finally {
    server.close();
  }
});
