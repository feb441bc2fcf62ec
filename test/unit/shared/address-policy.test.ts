import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPublicAddress } from '../../../adapters/http/address-policy.ts';

test('only public unicast addresses may be fetched from: metadata, private, loopback, link-local and hidden IPv4 are not', () => {
  for (const address of ['8.8.8.8', '93.184.215.14', '2606:4700::6810:84e5', '2a00:1450:4001:82a::200e'])
    assert.ok(isPublicAddress(address), address);
  for (const address of [
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.7',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc00::5',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a00:7',
    'not-an-address',
  ]) {
    assert.equal(isPublicAddress(address), false, address);
  }
});
