"""Published test cases of peer libraries (MONAI, kornia, coral-pytorch), run against losskit."""
