// The contract between storage and its users (ARCHITECTURE.md "Storage contracts"):
// virtio-blk, the ext4 reader and `tsvirt img convert` see only this. Synchronous,
// because the vCPU thread calls it; byte offsets at any alignment.

export interface BlockDevice {
  /** Virtual size in bytes (what the guest sees). */
  readonly size: number;
  readonly readOnly: boolean;
  /** Reads buf.length bytes at offset; ranges past `size` are an error. */
  read(offset: number, buf: Uint8Array): void;
  write(offset: number, buf: Uint8Array): void;
  flush(): void;
  /** Deallocates or zeroes [offset, offset+len); reads return zeros afterwards. */
  discard(offset: number, len: number): void;
  close(): void;
}
