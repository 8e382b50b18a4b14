"""Loss kernels, one module per family. Import from ``mlx_losses.functional``."""
