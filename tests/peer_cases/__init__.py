"""Peer libraries' published test cases (MONAI, kornia, coral-pytorch, torchvision, torch,
pytorch-metric-learning), transcribed and run against losskit.

One module per peer and family. Each case names the repository, file and test it comes
from; a convention difference is asserted as such (and documented in the loss's card), and
a case losskit cannot run is a skipped test that says why.
"""
