// The virtio functions as MachineConfig.pciDevices builds them inside the vCPU worker:
// `(platform, options)` factories whose options are plain, structured-cloneable data (an
// image path, a MAC string, a backend kind) rather than open handles, because the image
// and the network backend must be opened on the thread that will use them. Each factory
// opens what its device needs (openImage takes the storage layer's image lock;
// openNetBackend binds port forwards or creates the TAP) and hands ownership to the
// device: VirtioPciFunction.close() releases it.
//
// Leaves out: option validation that belongs to the Domain (bus=, model=, which it has
// done before a machine is built); what arrives here is still checked, as it crosses a
// thread boundary.

import { TsvirtError } from '../../../lib/errors.js';
import { openImage, type ImageFormat } from '../../../storage/open-image.js';
import { parseMac } from '../../net/ethernet.js';
import { openNetBackend, type NetBackendConfig, type PortForward } from '../../net/index.js';
import { createVirtioBlk, createVirtioNet, createVirtioRng, type VirtioPlatform } from './index.js';
import type { BlkCacheMode } from './virtio-blk.js';
import type { VirtioBlk } from './virtio-blk.js';
import type { VirtioNet } from './virtio-net.js';
import type { VirtioPciFunction } from './virtio-pci.js';
import type { VirtioRng } from './virtio-rng.js';

export interface VirtioBlkImageOptions {
  path: string;
  format?: ImageFormat;
  readOnly?: boolean;
  /** --disk serial= (GET_ID; 20 bytes at most reach the guest). */
  serial?: string;
  cache?: BlkCacheMode;
  /** Backing files the user allowed outside the image's directory (storage/qcow2/backing.ts). */
  allowBacking?: readonly string[];
}

const CACHE_MODES: readonly BlkCacheMode[] = ['none', 'directsync', 'writethrough', 'writeback', 'unsafe'];

/** --disk path=...,bus=virtio: the image opened (and locked) here, owned by the device. */
export function virtioBlkFromImage(platform: VirtioPlatform, opts: VirtioBlkImageOptions): VirtioPciFunction & { readonly device: VirtioBlk } {
  if (opts.cache !== undefined && !CACHE_MODES.includes(opts.cache)) {
    throw new TsvirtError(`unknown disk cache mode '${String(opts.cache)}'`, `use one of ${CACHE_MODES.join(', ')}`);
  }
  const readOnly = opts.readOnly === true;
  const disk = openImage(opts.path, { readOnly, ...(opts.format ? { format: opts.format } : {}), ...(opts.allowBacking ? { allowBacking: opts.allowBacking } : {}) });
  try {
    return createVirtioBlk({ ...platform, device: disk, serial: opts.serial, cache: opts.cache, readOnly });
  } catch (err) {
    disk.close();
    throw err;
  }
}

export interface VirtioNetBackendOptions {
  /** aa:bb:cc:dd:ee:ff (the Domain generated one with the 52:54:00 prefix if none was given). */
  mac: string;
  /** Which host network: user-mode NAT (with port forwards) or a TAP on a bridge. */
  network: { type: 'user'; portForwards?: readonly PortForward[] } | { type: 'bridge'; bridge: string };
}

/** --network ...,model=virtio: the backend opened here, owned by the device. */
export async function virtioNetFromBackend(
  platform: VirtioPlatform,
  opts: VirtioNetBackendOptions,
): Promise<VirtioPciFunction & { readonly device: VirtioNet }> {
  const mac = parseMac(opts.mac);
  if (!mac) throw new TsvirtError(`bad MAC address '${opts.mac}'`, 'write it as six hex pairs, e.g. 52:54:00:12:34:56');
  if (mac[0] & 1) throw new TsvirtError(`MAC address ${opts.mac} is a multicast address`, 'the first byte must be even, e.g. 52:54:00:...');
  const log = platform.log;
  const config: NetBackendConfig = { ...opts.network, ...(log ? { log: (m: string) => log(m) } : {}) };
  const backend = await openNetBackend(config);
  try {
    return createVirtioNet({ ...platform, backend, mac });
  } catch (err) {
    backend.close();
    throw err;
  }
}

/** virtio-rng (libvirt <rng model='virtio'>): host randomness, nothing to open. */
export function virtioRngFromHost(platform: VirtioPlatform): VirtioPciFunction & { readonly device: VirtioRng } {
  return createVirtioRng(platform);
}
