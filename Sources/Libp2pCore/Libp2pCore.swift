// The libp2p protocol cores (L1): multistream-select, Noise with the libp2p payload, yamux, identify, ping. See Specs/libp2p.md.
