//! The repository conformance suite (feature `conformance`): every store runs it against itself.
