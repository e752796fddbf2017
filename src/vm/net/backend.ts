// Between virtio-net (the guest's NIC) and a host-side network: user-mode NAT or a TAP
// device. Frames are whole Ethernet frames without the virtio-net header.

export interface NetBackend {
  /** A frame the guest sent. The backend copies what it keeps. */
  send(frame: Uint8Array): void;
  /** The device registers where frames for the guest go. */
  onReceive(deliver: (frame: Uint8Array) => void): void;
  close(): void;
}
