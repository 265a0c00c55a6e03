"""The tamper-evident ledger: an RFC 9162 Merkle log over the tracking events, signed daily tree
heads and their verification (docs/LEDGER.md)."""
