// The host side of guest networking, as the machine and the front end use it: open a
// NetBackend for `--network user[,portForward=...]` or `--network bridge=BR`, and the
// portForward suboption grammar. Protocol internals stay in their own files.

import type { NetBackend } from './backend.js';
import type { NetDebugLog } from './net-counters.js';
import type { PortForward } from './port-forward.js';
import { TapBackend } from './tap-backend.js';
import { UserNetBackend } from './user-net.js';

export type { NetBackend } from './backend.js';
export type { NetDebugLog } from './net-counters.js';
export {
  DEFAULT_FORWARD_ADDRESS, expandPortForwards, isPortForwardKey, parsePortForwardOptions, parsePortForwardShorthand,
  type PortForward, type PortForwardRule,
} from './port-forward.js';
export { TapBackend } from './tap-backend.js';
export { UserNetBackend, type UserNetOptions } from './user-net.js';

export type NetBackendConfig =
  | { readonly type: 'user'; readonly portForwards?: readonly PortForward[]; readonly log?: NetDebugLog }
  | { readonly type: 'bridge'; readonly bridge: string; readonly log?: NetDebugLog };

/**
 * Opens the backend for one NIC on the calling thread (the vCPU worker: both backends are
 * event-driven there). Throws TsvirtError for what the user can fix (busy forward port,
 * no CAP_NET_ADMIN, missing bridge); nothing is left open when it throws.
 */
export async function openNetBackend(config: NetBackendConfig): Promise<NetBackend> {
  if (config.type === 'bridge') return TapBackend.open({ bridge: config.bridge, ...(config.log ? { log: config.log } : {}) });
  return UserNetBackend.open({ ...(config.portForwards ? { portForwards: config.portForwards } : {}), ...(config.log ? { log: config.log } : {}) });
}
