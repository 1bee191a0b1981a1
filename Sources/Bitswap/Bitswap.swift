// Bitswap (L1): the message codec, the server ledger and the client sessions. See Specs/bitswap.md.
