"""Modules for the probabilistic losses."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union, cast

import mlx.core as mx

from .. import functional as F
from .._validation import KL_REDUCTIONS, KLReduction, Reduction, check_bool, check_number
from ._base import _Loss

__all__ = ["KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss"]


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence loss; see :func:`mlx_losses.functional.kl_div`.

    Args:
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'batchmean'`` | ``'sum'``
            | ``'mean'``. ``'mean'`` warns on every call, as in torch.
            Default: ``'mean'``.
        log_target (bool, optional): Whether ``target`` is in log space.
            Default: ``False``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import KLDivLoss
        >>> loss = KLDivLoss(reduction="batchmean", log_target=True)
        >>> loss
        KLDivLoss(reduction='batchmean', log_target=True)
        >>> logp = mx.log(mx.array([[0.25, 0.75]]))
        >>> loss(logp, logp).item()
        0.0
    """

    _allowed_reductions = KL_REDUCTIONS

    def __init__(
        self,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: KLReduction = "mean",
        log_target: bool = False,
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        # (checked against _allowed_reductions, KL's four)
        super().__init__(size_average, reduce, cast(Reduction, reduction), group=group)
        self.log_target = check_bool(type(self).__name__, "log_target", log_target)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "log_target": self.log_target}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.kl_div(
            input, target, reduction=self.reduction, log_target=self.log_target, group=self.group
        )


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood; see :func:`mlx_losses.functional.poisson_nll_loss`.

    Args:
        log_input (bool, optional): Whether ``input`` is the log of the rate.
            Default: ``True``.
        full (bool, optional): Add the Stirling term for targets > 1.
            Default: ``False``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        eps (float, optional): Added to the rate before the log when
            ``log_input=False``. Default: ``1e-8``.
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import PoissonNLLLoss
        >>> PoissonNLLLoss(full=True)
        PoissonNLLLoss(reduction='mean', log_input=True, full=True, eps=1e-08)
    """

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: Optional[bool] = None,
        eps: float = 1e-8,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction, group=group)
        name = type(self).__name__
        self.log_input = check_bool(name, "log_input", log_input)
        self.full = check_bool(name, "full", full)
        self.eps = check_number(name, "eps", eps)

    def _options(self) -> Dict[str, Any]:
        return {
            **super()._options(),
            "log_input": self.log_input,
            "full": self.full,
            "eps": self.eps,
        }

    def __call__(self, log_input: mx.array, target: mx.array) -> mx.array:
        return F.poisson_nll_loss(
            log_input,
            target,
            log_input=self.log_input,
            full=self.full,
            eps=self.eps,
            reduction=self.reduction,
            group=self.group,
        )


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood; see :func:`mlx_losses.functional.gaussian_nll_loss`.

    Args:
        full (bool, optional): Add the constant ``0.5 * log(2 * pi)``.
            Default: ``False``.
        eps (float, optional): The lower clamp of ``var``. Default: ``1e-6``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import GaussianNLLLoss
        >>> loss = GaussianNLLLoss(full=True, reduction="sum")
        >>> loss
        GaussianNLLLoss(reduction='sum', full=True, eps=1e-06)
        >>> loss(mx.zeros((5, 2)), mx.ones((5, 2)), mx.ones((5, 1))).shape
        ()
    """

    def __init__(
        self,
        *,
        full: bool = False,
        eps: Union[float, mx.array] = 1e-6,
        reduction: Reduction = "mean",
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(None, None, reduction, group=group)
        self.full = full
        self.eps: Union[float, mx.array]
        if isinstance(eps, mx.array) and eps.ndim > 0:
            # an array of lower bounds (torch's clamp takes one): a frozen buffer
            self.eps = eps
            self.freeze(keys=["eps"], recurse=False)
        else:
            self.eps = check_number(type(self).__name__, "eps", eps, complex_ok=True)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "full": self.full, "eps": self.eps}

    def __call__(
        self, input: mx.array, target: mx.array, var: Union[mx.array, float]
    ) -> mx.array:
        return F.gaussian_nll_loss(
            input, target, var, full=self.full, eps=self.eps, reduction=self.reduction,
            group=self.group,
        )
