"""Benchmarks of mlx_losses against mlx.nn.losses, naive MLX and torch.

Run ``python -m benchmarks --help``; see benchmarks/README.md.
"""
