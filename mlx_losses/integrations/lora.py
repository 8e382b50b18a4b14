"""``mlx_lm.lora`` with mlx-losses' loss: the same command line, one word changed.

::

    mlx_lm.lora --model MODEL --train --data DATA ...
    mlx_losses.lora --model MODEL --train --data DATA ...          # chunked loss
    python -m mlx_losses.integrations.lora --model MODEL --train ...

Every flag and config-file key of ``mlx_lm.lora`` works as there (this runs
mlx-lm's own parser, config handling, ``train_model`` and evaluation), plus:

``--loss {chunked,cross_entropy,mlx-lm}``
    ``chunked`` (default): :func:`~mlx_losses.integrations.mlx_lm.linear_cross_entropy_loss`,
    which never holds the (tokens, vocabulary) logits; ``cross_entropy``:
    :func:`~mlx_losses.integrations.mlx_lm.cross_entropy_loss` on the
    model's logits; ``mlx-lm``: mlx-lm's own ``default_loss``.
``--batch-chunk-size N``, ``--vocab-chunk-size N``
    The chunked path's tile (``LinearCrossEntropyOptions``).
``--label-smoothing F``, ``--z-loss F``
    Label smoothing (torch's definition) and the z-loss weight.
``--loss-in-model-dtype``
    Each token's loss in the model's dtype, as ``default_loss`` rounds it
    (default: float32 for float16 / bfloat16 models).
``--token-mean``
    Every update's gradient is the mean over all its tokens, across the
    ``--grad-accumulation-steps`` micro-batches and the ranks
    (:func:`~mlx_losses.integrations.mlx_lm.token_mean_batches`), instead of
    mlx-lm's mean of per-micro-batch means.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any, Dict, Iterator, List, Optional

__all__ = ["main", "build_parser", "loss_from_args"]

LOSSES = ("chunked", "cross_entropy", "mlx-lm")

# our keys and their defaults (mlx-lm's main fills only its own)
DEFAULTS = {
    "loss": "chunked",
    "batch_chunk_size": None,
    "vocab_chunk_size": None,
    "label_smoothing": 0.0,
    "z_loss": 0.0,
    "loss_in_model_dtype": False,
    "token_mean": False,
}


def _lora():
    try:
        from mlx_lm import lora
    except ImportError as err:  # pragma: no cover - exercised without the extra
        raise SystemExit(
            "mlx_losses.lora needs mlx-lm: pip install 'mlx-losses[mlx-lm]'") from err
    return lora


def build_parser():
    """mlx-lm's ``lora`` parser with mlx-losses' options added."""
    return _extend(_lora().build_parser())


def _extend(parser):
    parser.description = (parser.description or "") + " (with mlx-losses' loss)"
    group = parser.add_argument_group("mlx-losses")
    group.add_argument("--loss", choices=LOSSES, default=None,
                       help="chunked (default): never holds the (tokens, vocabulary) "
                            "logits; cross_entropy: mlx-losses' cross-entropy on the "
                            "model's logits; mlx-lm: mlx-lm's default_loss.")
    group.add_argument("--batch-chunk-size", type=int, default=None,
                       help="Tokens per chunk of the chunked loss (default: automatic).")
    group.add_argument("--vocab-chunk-size", type=int, default=None,
                       help="Vocabulary entries per chunk of the chunked loss "
                            "(default: automatic).")
    group.add_argument("--label-smoothing", type=float, default=None,
                       help="Label smoothing in [0, 1] (default 0).")
    group.add_argument("--z-loss", type=float, default=None,
                       help="Weight of the z-loss, the squared log-sum-exp of the "
                            "logits (default 0).")
    group.add_argument("--loss-in-model-dtype", action="store_true", default=None,
                       help="Round each token's loss to the model's dtype, as "
                            "mlx-lm's default_loss (default: float32).")
    group.add_argument("--token-mean", action="store_true", default=None,
                       help="Each update's gradient is the mean over all its tokens "
                            "(across accumulation steps and ranks).")
    return parser


def loss_from_args(args: Any):
    """The loss callable ``args`` asks for (``None`` for mlx-lm's own)."""
    from .mlx_lm import cross_entropy_loss, linear_cross_entropy_loss

    opts: Dict[str, Any] = {
        k: (getattr(args, k, None) if getattr(args, k, None) is not None else v)
        for k, v in DEFAULTS.items()}
    if opts["loss"] not in LOSSES:
        raise ValueError(f"mlx_losses.lora: `loss` must be one of {', '.join(LOSSES)}, "
                         f"got {opts['loss']!r}.")
    common: Dict[str, Any] = {"label_smoothing": opts["label_smoothing"],
                              "z_loss": opts["z_loss"],
                              "float32": not opts["loss_in_model_dtype"]}
    if opts["loss"] == "mlx-lm":
        ours = [k for k in ("batch_chunk_size", "vocab_chunk_size", "token_mean",
                            "loss_in_model_dtype") if opts[k]]
        ours += [k for k in ("label_smoothing", "z_loss") if opts[k]]
        if ours:
            raise ValueError("mlx_losses.lora: `loss` must be chunked or cross_entropy with "
                             f"{', '.join('--' + k.replace('_', '-') for k in ours)}, got "
                             "'mlx-lm'.")
        return None
    if opts["loss"] == "cross_entropy":
        for k in ("batch_chunk_size", "vocab_chunk_size"):
            if opts[k] is not None:
                raise ValueError(f"mlx_losses.lora: `loss` must be chunked with "
                                 f"--{k.replace('_', '-')}, got 'cross_entropy'.")
        return cross_entropy_loss(**common)
    return linear_cross_entropy_loss(batch_chunk_size=opts["batch_chunk_size"],
                                     vocab_chunk_size=opts["vocab_chunk_size"], **common)


@contextlib.contextmanager
def _patched(module: Any, **values: Any) -> Iterator[None]:
    old = {k: getattr(module, k) for k in values}
    try:
        for k, v in values.items():
            setattr(module, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def main(argv: Optional[List[str]] = None) -> None:
    """Run ``mlx_lm.lora`` with the loss the flags ask for."""
    lora = _lora()
    run = lora.run

    def run_with_our_loss(args, training_callback=None):
        loss = loss_from_args(args)
        if loss is None:  # --loss mlx-lm: mlx-lm's own run, untouched
            result = run(args, training_callback)
        else:
            result = run_ours(args, training_callback, loss)
        if getattr(args, "train", False):
            import mlx.core as mx

            # mlx-lm reports the peak to its callbacks only; print it
            if mx.distributed.init().rank() == 0:
                print(f"mlx-losses: peak memory {mx.get_peak_memory() / 1e9:.3f} GB")
        return result

    def run_ours(args, training_callback, loss):
        train_kwargs = {"loss": loss}
        if getattr(args, "token_mean", None):
            from .mlx_lm import token_mean_batches

            train_kwargs["iterate_batches"] = token_mean_batches(args.grad_accumulation_steps)
        from mlx_lm.tuner.trainer import evaluate as mlx_evaluate

        lora.rprint(f"mlx-losses: loss {loss!r}"
                    + (", token-correct means" if "iterate_batches" in train_kwargs else ""))
        with _patched(lora, train=functools.partial(lora.train, **train_kwargs),
                      evaluate=functools.partial(mlx_evaluate, loss=loss)):
            return run(args, training_callback)

    saved = sys.argv
    if argv is not None:
        sys.argv = [saved[0] if saved else "mlx_losses.lora", *argv]
    try:
        mlx_lm_parser = lora.build_parser
        with _patched(lora, build_parser=lambda: _extend(mlx_lm_parser()), run=run_with_our_loss):
            lora.main()
    finally:
        sys.argv = saved


if __name__ == "__main__":
    main()
