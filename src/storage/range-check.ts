// Argument checks shared by the BlockDevice implementations: the contract says a range
// past `size` is an error, and a closed or read-only device refuses writes. These are the
// caller's bugs or a guest's bad request, reported as RangeError for the device to handle.
export function checkRange(op: string, offset: number, len: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len < 0 || offset + len > size) {
    throw new RangeError(`${op} of ${len} bytes at ${offset} is outside the device (size ${size})`);
  }
}
