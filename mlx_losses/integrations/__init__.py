"""Integrations with other MLX libraries (optional extras).

Each lives in its own module and imports its library only there:
``mlx_losses.integrations.mlx_lm`` (losses for mlx-lm's trainer, the
``mlx-lm`` extra) and ``mlx_losses.integrations.lora`` (mlx-lm's LoRA command
line with those losses). ``import mlx_losses`` imports none of them.
"""

__all__: list = []
