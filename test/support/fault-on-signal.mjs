// Preloaded into a tsvirt process by tests (node --import): on SIGUSR2 it raises an error
// that nothing in tsvirt can catch, the way a bug in an event handler would, to show that
// the process still cleans up. TSVIRT_TEST_FAULT picks the kind: `throw` (an exception
// from a timer) or `reject` (a promise rejected with no handler). Test code only.
process.on('SIGUSR2', () => {
  const kind = process.env.TSVIRT_TEST_FAULT ?? 'throw';
  setTimeout(() => {
    if (kind === 'reject') void Promise.reject(new Error('injected fault: a rejection nobody handles'));
    else throw new Error('injected fault: an exception nobody catches');
  }, 0);
});
