"""The consortium's network as its node operators run it: generating a Hyperledger Besu QBFT network folder
(genesis, node configuration, keys, static nodes) and keeping every node's local permissions files in step
with the ledger's on-chain membership registry."""
