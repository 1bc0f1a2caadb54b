"""Large-vocabulary cross-entropy from hidden states (sequence family; see kernels/)."""

__all__: list[str] = []
