"""Mixed precision as a design: Gram matrices from a reduced-precision copy of X.

``GLM(precision="mixed")`` fits with a :class:`MixedPrecisionDesign`: the
weighted Gram matrix X'WX — the n p^2 part of a Newton iteration, which
Tensor Cores run fastest — is formed from a bfloat16 copy of X with float32
accumulation (the blocks summed in float64), while the linear predictor X b,
the gradient X'v, the deviance and the convergence test use X itself. The
solver is unchanged: it factors the Gram matrix in float64 as always.

Why this converges to the full-precision optimum: Newton's fixed point is
where the *gradient* vanishes, and the gradient is exact. A perturbed Hessian
H + E only changes the path: each step contracts the error by about the
spectral radius of (H + E)^{-1} E (iterative refinement; Carson and Oktay
2024 analyse exactly this weighted least-squares setting). bfloat16 keeps 8
significant bits (unit roundoff 2^-8 = 3.9e-3), so for well-conditioned data
the radius is small and a fit needs only a few more iterations.

When X'WX is too ill-conditioned for that (radius above
:data:`MAX_CONTRACTION`), the first Gram matrix detects it — the design forms
the exact one once, computes the radius, and if the refinement would not
contract it warns with :class:`MixedPrecisionWarning` and uses full
precision from then on.

On the CPU and on GPUs without a bfloat16 product that returns float32,
the reduced copy is emulated: X rounded to bfloat16 (round to nearest even)
and stored as float32, whose float32 products give the same numbers as
bfloat16 inputs with float32 accumulation.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._backend import to_numpy
from .dense import DenseDesign, _with_intercept
from .protocol import ReduceOp

__all__ = ["MAX_CONTRACTION", "MixedPrecisionDesign", "MixedPrecisionWarning", "round_to_bfloat16"]

#: Largest spectral radius of (H~)^{-1} (H~ - H) at which mixed precision is kept.
MAX_CONTRACTION = 0.5


class MixedPrecisionWarning(UserWarning):
    """Reduced precision cannot be used for this fit (it falls back to full precision)."""


def round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))
    out = (rounded & np.uint32(0xFFFF0000)).view(np.float32)
    # Inf and NaN are not in validated input; keep the finite-value path only.
    return out


class MixedPrecisionDesign:
    """A dense X whose Gram matrices come from its bfloat16 copy.

    Parameters
    ----------
    full : DenseDesign
        The design of X at full precision (float32 or float64): products, the
        gradient and the deviance.
    reduced : DenseDesign, optional
        The design of the reduced copy (built from ``full`` when not given).
    """

    can_sample_rows = True

    def __init__(
        self, full: DenseDesign, reduced: DenseDesign | None = None, state: dict | None = None
    ) -> None:
        self.full = full
        self.backend = full.backend
        self.xp = full.xp
        self.n, self.p = full.n, full.p
        self.dtype = full.dtype
        self.is_sparse = False
        self.reduced = (
            reduced if reduced is not None else DenseDesign(_reduced_copy(full), full.backend)
        )
        self.reduced_format = "bfloat16"
        # Shared with the subsets and row samples made from this design: the
        # first Gram matrix, whichever of them forms it, decides for all.
        self.state = state if state is not None else {"mixed": None, "contraction": None}

    @property
    def mixed(self) -> bool | None:
        """None until the first Gram matrix; then whether the bfloat16 copy is used."""
        return self.state["mixed"]

    @property
    def contraction(self) -> float | None:
        """The refinement's error factor measured at the first Gram matrix."""
        return self.state["contraction"]

    def reduce(self, value: Any, op: ReduceOp = "sum") -> Any:
        return self.full.reduce(value, op)

    def matvec(self, beta: Any) -> Any:
        return self.full.matvec(beta)

    def rmatvec(self, v: Any) -> Any:
        return self.full.rmatvec(v)

    def column_range(self) -> Any:
        return self.full.column_range()

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """X'WX from the reduced copy; the first call checks that refinement contracts."""
        if self.mixed is None:
            exact = self.full.gram(d, intercept)
            approx = self._reduced_gram(d, intercept)
            factor = _contraction(to_numpy(exact), to_numpy(approx))
            self.state.update(contraction=factor, mixed=factor <= MAX_CONTRACTION)
            if not self.mixed:
                warnings.warn(
                    f"mixed precision would not converge here: X'WX is too ill-conditioned for "
                    f"its bfloat16 copy (refinement factor {factor:.2g} > "
                    f"{MAX_CONTRACTION}); glmlib falls back to full precision for this fit",
                    MixedPrecisionWarning,
                    stacklevel=2,
                )
            return approx if self.mixed else exact
        return self._reduced_gram(d, intercept) if self.mixed else self.full.gram(d, intercept)

    def _reduced_gram(self, d: Any, intercept: bool) -> Any:
        X = self.reduced.X
        if self.backend.name != "torch" or str(X.dtype) != "torch.bfloat16":
            return self.reduced.gram(d, intercept)  # emulated: bfloat16 values stored as float32
        return _bfloat16_gram(X, d, intercept)

    def subset(self, cols: Any) -> MixedPrecisionDesign:
        return MixedPrecisionDesign(self.full.subset(cols), self.reduced.subset(cols), self.state)

    def rows(self, idx: Any) -> MixedPrecisionDesign:
        return MixedPrecisionDesign(self.full.rows(idx), self.reduced.rows(idx), self.state)


def _reduced_copy(full: DenseDesign) -> Any:
    """X rounded to bfloat16: a bfloat16 tensor where its products return float32, else emulated."""
    X = full.X
    if full.backend.name == "torch":
        import torch

        if X.device.type == "cuda" and _bf16_out_float32(torch, X.device):
            return X.to(torch.bfloat16)
        return torch.from_numpy(round_to_bfloat16(to_numpy(X))).to(X.device)
    return full.backend.asarray(round_to_bfloat16(to_numpy(X)))


def _bfloat16_gram(X: Any, d: Any, intercept: bool, block_rows: int = 1 << 20) -> Any:
    """[1, X].T diag(d) [1, X] from bfloat16 X on Tensor Cores: float32 products, float64 sums."""
    import torch

    p = X.shape[1]
    g = torch.zeros(p, p, dtype=torch.float64, device=X.device)
    col = torch.zeros(p, dtype=torch.float64, device=X.device)
    s = torch.sqrt(d)
    for start in range(0, X.shape[0], block_rows):
        s_b = s[start : start + block_rows].to(torch.bfloat16)
        block = X[start : start + block_rows] * s_b[:, None]
        g += torch.mm(block.T, block, out_dtype=torch.float32).double()
        if intercept:
            col += torch.mm(block.T, s_b[:, None], out_dtype=torch.float32).double()[:, 0]
    g = (g + g.T) * 0.5
    if not intercept:
        return g
    return _with_intercept(torch, g, col, torch.sum(d))


def _bf16_out_float32(torch: Any, device: Any) -> bool:
    try:
        a = torch.ones(2, 2, dtype=torch.bfloat16, device=device)
        return torch.mm(a, a, out_dtype=torch.float32).dtype == torch.float32
    except (TypeError, RuntimeError):
        return False


def _contraction(exact: np.ndarray, approx: np.ndarray) -> float:
    """Spectral radius of approx^{-1} (approx - exact): the refinement's error factor per step."""
    try:
        m = np.linalg.solve(approx, approx - exact)
    except np.linalg.LinAlgError:
        return float("inf")
    radius = float(np.max(np.abs(np.linalg.eigvals(m)))) if m.size else 0.0
    return radius if np.isfinite(radius) else float("inf")
