// Flags shared by the `tsvirt img` commands that open a backing chain.
import { Flags } from '@oclif/core';

/**
 * A backing file a qcow2 image names is followed only inside the image's own directory
 * (src/storage/qcow2/backing.ts); this is how the user allows one elsewhere.
 */
export const allowBackingFlag = Flags.string({
  multiple: true,
  // One path per --allow-backing, so the image argument after it stays an argument.
  multipleNonGreedy: true,
  helpValue: 'PATH',
  description: 'allow backing files at PATH (a file, or a directory and everything below it) besides the image\'s own directory',
});
