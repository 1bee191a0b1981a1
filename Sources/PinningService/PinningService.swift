/// The IPFS Pinning Service API (issue 27): being written; nothing is served yet.
enum PinningServiceModule {}
