// The command lines of test/domain/legacy-options.test.ts (virt-install's hidden
// back-compat options and argparse abbreviations), shared with option-coverage.test.ts.
// @DIR@ is a scratch directory holding a.img and b.img; @IMPORT@ adds an existing disk.

/** Every line gets a name, memory and OS; @IMPORT@ adds an existing disk to boot. */
export const LEGACY_LINES: readonly string[] = [
  '--nographics @IMPORT@',
  '--nograph @IMPORT@',
  '--vnc @IMPORT@',
  '--file @DIR@/a.img --file @DIR@/b.img --import',
  '-f @DIR@/a.img --import',
  '--file @DIR@/new.img --file-size 2 --nonsparse --import',
  '-f @DIR@/new.img -s 1.5 --import',
  '--nonetworks @IMPORT@',
  '--mac 52:54:00:11:22:33 @IMPORT@',
  '-m 52:54:00:11:22:33 --network user @IMPORT@',
  '--bridge br0 --mac 52:54:00:11:22:33 @IMPORT@',
  '-b br0 -b br1 @IMPORT@',
  '--network bridge:br1 @IMPORT@',
  '--uuid 0123456789abcdef0123456789abcdef @IMPORT@',
  '-u 01234567-89ab-cdef-0123-456789abcdef @IMPORT@',
  '--os-type linux @IMPORT@',
  '--accelerate --check-cpu @IMPORT@',
  '--noacpi --noapic @IMPORT@',
  '--print-step 1 @IMPORT@',
  '--os-var linux2022 --vcp 2 --nograph @IMPORT@',
  // A bare `sparse` in --disk is the default (virt-install pops it with no value).
  '--disk @DIR@/new.img,size=1,sparse --import',
];

/** Lines both refuse; the message is virt-install's own. */
export const LEGACY_ERRORS: ReadonlyArray<readonly [string, RegExp]> = [
  ['--nodisks --file @DIR@/a.img --pxe', /Cannot specify storage and use --nodisks/],
  ['--file @DIR@/a.img --disk @DIR@/b.img --import', /Cannot mix --file, --nonsparse, or --file-size with --disk options/],
  ['--bridge br0 --network user @IMPORT@', /Cannot use --bridge and --network at the same time|Cannot use --bridge and --network/],
  ['--vnc --graphics vnc @IMPORT@', /Cannot mix --graphics and old style graphical options/],
  ['--vnc --nographics @IMPORT@', /Can't specify more than one of VNC, SDL, --graphics or --nographics/],
  ['-c qemu:///system @IMPORT@', /-c specified with what looks like a libvirt URI/],
  ['--n x @IMPORT@', /ambiguous option: --n could match --name, --network/],
  ['--mem 512 @IMPORT@', /ambiguous option: --mem could match --memory/],
  ['--import --disk @DIR@/a.img,readonly', /--disk .*a\.img,readonly: Option 'readonly' had no value set/],
];


/** Lines virt-install takes and tsvirt-install refuses for now, each naming what it lacks. */
export const LEGACY_NOT_YET: ReadonlyArray<readonly [string, string]> = [
  ['--vnc --vncport 5901 @IMPORT@', 'ERROR --vncport (--graphics port=) is not supported by tsvirt-install yet; use --graphics vnc or --graphics none'],
  ['--vnc --vnclisten 0.0.0.0 @IMPORT@', 'ERROR --vnclisten (--graphics listen=) is not supported by tsvirt-install yet; use --graphics vnc or --graphics none'],
  ['--vnc --keymap de @IMPORT@', 'ERROR --keymap (--graphics keymap=) is not supported by tsvirt-install yet; use --graphics vnc or --graphics none'],
  ['--vnc -k de @IMPORT@', 'ERROR --keymap (--graphics keymap=) is not supported by tsvirt-install yet; use --graphics vnc or --graphics none'],
  ['--sdl @IMPORT@', 'ERROR --sdl (--graphics sdl) is not supported by tsvirt-install yet; use --graphics vnc or --graphics none'],
  ['--cpuset 1-2 @IMPORT@', 'ERROR --cpuset (--vcpus cpuset=) is not supported by tsvirt-install yet; drop --cpuset; tsvirt does not pin vCPUs'],
];
