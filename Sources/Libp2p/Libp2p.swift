// The libp2p host (L2): NIO TCP connections, streams, identify, ping and the bitswap service. See Specs/libp2p.md.
