// Writes oclif.manifest.json (git-ignored build output) the way oclif's own `oclif manifest`
// does: @oclif/core's Plugin loads every built command once and records its flags, args
// and file. With the manifest, a CLI start reads one JSON file and imports only the
// command being run, instead of importing every command to learn its flags.
// Run by `npm run build` after tsc.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
const ids = Object.keys(plugin.manifest.commands);
if (ids.length === 0) throw new Error('no commands found in dist/commands: run tsc first');
writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
console.log(`oclif.manifest.json: ${ids.length} commands`);
