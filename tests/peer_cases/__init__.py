"""Peer libraries' own published test cases, run against losskit (one module per library)."""
