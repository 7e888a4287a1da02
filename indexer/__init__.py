"""The mirror of the chain: compiling and locating the ledger's contracts, following the chain's events
and projecting them into the query database that the API reads."""
