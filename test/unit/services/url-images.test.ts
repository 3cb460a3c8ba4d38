import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllowPrivate } from '../../../src/config.ts';
import { FetchSlots, isPrivateAddress } from '../../../src/services/url-images.ts';

test('loopback, private, link-local, metadata, multicast and mapped addresses count as private', () => {
  for (const address of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fd00:ec2::254',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
    'not an address',
  ])
    assert.equal(isPrivateAddress(address), true, address);
  for (const address of ['93.184.215.14', '172.32.0.1', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])
    assert.equal(isPrivateAddress(address), false, address);
});

test('IPv6 spellings that carry an IPv4 address or a local range are refused too', () => {
  for (const address of [
    '::7f00:1', // IPv4-compatible ::127.0.0.1
    '::a9fe:a9fe', // ::169.254.169.254
    '64:ff9b:1::a00:1', // local-use NAT64
    '2002:7f00:1::1', // 6to4 of 127.0.0.1
    '2002:a00:1::', // 6to4 of 10.0.0.1
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    'fec0::1', // site-local
  ])
    assert.equal(isPrivateAddress(address), true, address);
});

test('NEGLABEL_ALLOW_PRIVATE_URLS: unset none, 1 all, or addresses and subnets; anything else refused', () => {
  assert.equal(parseAllowPrivate(undefined), null);
  assert.equal(parseAllowPrivate('1'), 'all');
  const list = parseAllowPrivate('10.20.0.0/16, 127.0.0.2, fd00::/8');
  assert.ok(list !== null && list !== 'all');
  assert.equal(list.check('10.20.3.4', 'ipv4'), true);
  assert.equal(list.check('10.21.0.1', 'ipv4'), false);
  assert.equal(list.check('127.0.0.2', 'ipv4'), true);
  assert.equal(list.check('127.0.0.1', 'ipv4'), false);
  assert.equal(list.check('fd12::1', 'ipv6'), true);
  for (const bad of ['yes', '10.0.0.0/33', '300.1.1.1', '10.0.0.0/x'])
    assert.throws(() => parseAllowPrivate(bad), /NEGLABEL_ALLOW_PRIVATE_URLS/, bad);
});

test('fetch slots: so many at once, so many per host; waiting ones start in order; an abort leaves', async () => {
  const slots = new FetchSlots(3, 2);
  const started: string[] = [];
  const frees = new Map<string, () => void>();
  const never = new AbortController().signal;
  const take = (name: string, host: string, signal = never) =>
    slots.acquire(host, signal).then((free) => {
      started.push(name);
      frees.set(name, free);
    });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const aborting = new AbortController();
  const a = [take('a1', 'a'), take('a2', 'a'), take('a3', 'a')];
  const b1 = take('b1', 'b');
  const leaving = slots.acquire('c', aborting.signal);
  const c2 = take('c2', 'c');
  await settle();
  // a3 waits for its host, c for the total of 3
  assert.deepEqual(started, ['a1', 'a2', 'b1']);
  aborting.abort(new Error('timed out'));
  await assert.rejects(leaving, /timed out/);
  frees.get('a1')!();
  frees.get('a1')!(); // freeing twice frees once
  await settle();
  assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3']);
  frees.get('b1')!();
  await Promise.all([...a, b1, c2]);
  assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3', 'c2']);
});
