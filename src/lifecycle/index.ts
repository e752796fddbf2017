// The domain lifecycle's contract (issue 10): where state lives, the definition store, and
// virsh's verbs over defined and running domains. The runner (runner.ts, runner-main.ts)
// is the process these verbs talk to.
export { lifecyclePaths, runtimeFiles, type LifecyclePaths } from './state-paths.js';
export { DefinitionStore } from './definition-store.js';
export { checkRunnable, guestDisks, guestNics, guestSpecFor } from './domain-guest.js';
export {
  listDomains, domainState, defineDomain, readDefinitionFile, dumpDomainXml, startDomain, startAutostartDomains, shutdownDomain,
  rebootDomain, destroyDomain, undefineDomain, setDomainAutostart, consoleDomain, waitUntilStopped, defineAndStart,
  waitForShutdown,
  type DomainRow, type DomainState,
} from './domains.js';
export { CONSOLE_ESCAPE, type ConsoleEnd } from './console-attach.js';
