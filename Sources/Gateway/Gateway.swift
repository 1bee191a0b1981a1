/// The HTTP gateway of the embedded IPFS node (issue 26): being written; nothing is served yet.
enum GatewayModule {}
