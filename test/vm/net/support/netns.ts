// Test plumbing for the TAP backend: a network namespace with a bridge and a veth pair
// (ip-netns(8), ip-link(8)), moving the calling thread into it and back (setns(2) is
// per-thread for network namespaces), and dropping CAP_NET_ADMIN from the calling thread's
// effective set for a while (capset(2) is per-thread too) to see the backend's EPERM error.

import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const setns = libc.func('int setns(int fd, int nstype)');
const capget = libc.func('int capget(void *hdr, void *data)');
const capset = libc.func('int capset(void *hdr, void *data)');
const CLONE_NEWNET = 0x40000000;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const CAP_NET_ADMIN = 12;

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export interface TestNetns {
  readonly name: string;
  /** The namespace holding veth1, the host on the bridge. */
  readonly peer: string;
  /** Runs `fn` with the calling thread inside the namespace. */
  inside<T>(fn: () => T): T;
  remove(): void;
}

/** A fresh namespace with only `lo` (up). */
export function createBareNetns(name: string): TestNetns {
  ip('netns', 'add', name);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    ip('netns', 'del', name);
    throw err;
  }
  return { name, peer: name, inside: (fn) => insideNetns(name, fn), remove: () => ip('netns', 'del', name) };
}

function insideNetns<T>(name: string, fn: () => T): T {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(`/run/netns/${name}`, 'r');
  try {
    if (setns(target, CLONE_NEWNET) !== 0) throw new Error(`setns: errno ${koffi.errno()}`);
    try {
      return fn();
    } finally {
      if (setns(home, CLONE_NEWNET) !== 0) throw new Error(`setns back: errno ${koffi.errno()}`);
    }
  } finally {
    closeSync(home);
    closeSync(target);
  }
}

/**
 * ns with br0 (bridge, up, no address) and veth0 (a port of br0), whose peer veth1
 * (192.168.77.1/24) lives in a second namespace `peer`, so only it answers on the bridge.
 */
export function createTestNetns(): TestNetns {
  const name = `tsvirt-net-${process.pid}`;
  const peer = `${name}-peer`;
  ip('netns', 'add', name);
  ip('netns', 'add', peer);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', name, 'link', 'set', 'br0', 'up');
    ip('-n', name, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', peer);
    ip('-n', name, 'link', 'set', 'veth0', 'master', 'br0');
    ip('-n', name, 'link', 'set', 'veth0', 'up');
    ip('-n', peer, 'addr', 'add', '192.168.77.1/24', 'dev', 'veth1');
    ip('-n', peer, 'link', 'set', 'veth1', 'up');
  } catch (err) {
    ip('netns', 'del', name);
    ip('netns', 'del', peer);
    throw err;
  }
  return {
    name,
    peer,
    inside: (fn) => insideNetns(name, fn),
    remove() {
      ip('netns', 'del', name);
      ip('netns', 'del', peer);
    },
  };
}

/** Runs `fn` with CAP_NET_ADMIN removed from this thread's effective capabilities. */
export function withoutNetAdmin<T>(fn: () => T): T {
  const hdr = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array(6); // 2 × { effective, permitted, inheritable }
  if (capget(hdr, data) !== 0) throw new Error(`capget: errno ${koffi.errno()}`);
  const saved = data.slice();
  data[0] = data[0]! & ~(1 << CAP_NET_ADMIN);
  if (capset(hdr, data) !== 0) throw new Error(`capset: errno ${koffi.errno()}`);
  try {
    return fn();
  } finally {
    if (capset(hdr, saved) !== 0) throw new Error(`capset restore: errno ${koffi.errno()}`);
  }
}
