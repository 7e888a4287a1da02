"""The ledger's service side: the API members and auditors use, and the traceability logic behind the
consumer's scan (bottle codes and their Merkle commitments). It reads the chain's mirror built by
`indexer` and writes to the chain through the deployed contracts."""

__version__ = "0.1.0"
