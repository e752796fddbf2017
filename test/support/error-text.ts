// The text a user would see for what `f` throws (describeError), or 'no error'.
import { describeError } from '../../src/lib/errors.js';

export function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return describeError(err);
  }
  return 'no error';
}
