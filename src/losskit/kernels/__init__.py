"""Fused fast paths (torch.autograd.Function) behind the functional signatures."""
