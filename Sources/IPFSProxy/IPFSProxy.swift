/// The IPFS proxy API (issue 22): being written; nothing is served yet.
enum IPFSProxyModule {}
