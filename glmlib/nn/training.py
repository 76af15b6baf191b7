"""The training loop: one place for batching, device placement, mixed precision and checkpoints.

:func:`train` fits any ``nn.Module`` that maps a batch of inputs to a linear
predictor, with any loss of the form ``loss(eta, y, sample_weight)`` returning
a weighted mean (such as :class:`glmlib.nn.GLMLoss`). Per epoch it

1. shuffles the rows (a seeded ``torch.Generator``) and reads them in batches
   through a ``DataLoader`` (worker processes and pinned memory on CUDA),
2. per optimizer step, accumulates the gradients of ``accumulation_steps``
   micro-batches, each weighted by its share of the step's total weight, so
   that the step equals one on the concatenated micro-batches,
3. steps AdamW (under ``torch.amp.autocast`` in bfloat16, or in float16 with
   a ``torch.amp.GradScaler``, as ``amp`` says), then the optional proximal
   step (an elastic-net penalty),
4. computes the validation deviance, steps the learning-rate schedule, keeps
   the best weights (early stopping with ``patience``; the starting weights
   count as epoch 0) and writes a checkpoint.

A checkpoint holds the model, optimizer, schedule, scaler, early-stopping
state, history and the shuffling generator's state, so a run resumed from it
reproduces the uninterrupted run exactly. A training or validation loss that
is not finite, or more than ``divergence_factor`` times its value before
training (or than ``divergence_factor`` itself, if that is larger: a start
near a perfect fit is not a scale), stops the run with
:class:`DivergenceError`, naming the epoch. Links clip eta, so an exploding
run need not reach infinity.

A dataset is any ``torch.utils.data.Dataset`` whose ``__getitem__`` takes a
list of row indices and returns a tuple of batched tensors
``(*inputs, y, sample_weight)``, such as ``TensorDataset``; the model is called
as ``model(*inputs)``.

Under ``torch.distributed`` (a process group of more than one process, e.g.
``torchrun`` or ``torch.multiprocessing.spawn`` with the gloo or NCCL
backend) every process holds the whole data set and calls :func:`train` with
the same seed; the model is wrapped in ``DistributedDataParallel``. Each epoch's
permutation is cut into global batches of ``batch_size * world_size`` rows and
process ``r`` trains on the ``r``-th slice of each; the micro-batch losses are
weighted by their share of the global step's total weight (one all-reduce per
step), so that the averaged gradient is that of the global batch and every
process ends with the weights of a single process trained with batch size
``batch_size * world_size``. Validation data are evaluated whole on every
process (so early stopping decides alike everywhere); process 0 alone writes
checkpoints and shows progress.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler

from .._progress import progress_bar

__all__ = ["DivergenceError", "TrainConfig", "TrainResult", "evaluate", "train"]

SCHEDULES = ("plateau", "cosine", "constant")
OPTIMIZERS = ("adamw", "sgd")
AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


class DivergenceError(RuntimeError):
    """The loss became NaN or infinite: the run diverged."""


@dataclass
class TrainConfig:
    """Settings of :func:`train`.

    Parameters
    ----------
    max_epochs : int, default=100
        Passes over the training data (0 returns the model as it is).
    batch_size : int, default=256
        Rows per micro-batch.
    learning_rate : float, default=1e-3
        Initial learning rate.
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay.
    optimizer : {"adamw", "sgd"}, default="adamw"
        ``"sgd"`` (plain gradient descent) makes the proximal step the exact
        proximal-gradient method.
    lr_schedule : {"plateau", "cosine", "constant"}, default="plateau"
        ``"plateau"`` halves the rate when the validation deviance has not
        improved for ``max(1, patience // 2)`` epochs; ``"cosine"`` anneals it
        to zero over ``max_epochs``.
    patience : int or None, default=10
        Stop after this many epochs without a better validation deviance and
        restore the best weights. None: no early stopping.
    accumulation_steps : int, default=1
        Micro-batches whose gradients make one optimizer step.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    amp : {True, False, None, "bfloat16", "float16"}, default=True
        Mixed precision (``torch.amp.autocast``). ``"bfloat16"``: autocast in
        bfloat16 on any device (the CPU included), no gradient scaler
        (bfloat16 has float32's exponent range). ``"float16"``: autocast in
        float16 with a ``torch.amp.GradScaler`` (float16 gradients underflow
        without one). True: on CUDA bfloat16 where the GPU has it, else
        float16; off on the CPU. False or None: full precision. Output layers
        (GLM heads, LocalGLMnet's attention) and the loss run in float32
        either way.
    num_workers : int or None, default=None
        DataLoader workers; None: 2 on CUDA, 0 on the CPU.
    max_grad_norm : float or None, default=None
        Clip the gradient norm of each step.
    checkpoint_path : str or path or None, default=None
        Write a checkpoint there after every epoch.
    resume : bool, default=False
        Continue from ``checkpoint_path`` if it exists.
    divergence_factor : float or None, default=10.0
        Stop with :class:`DivergenceError` when an epoch's training or
        validation deviance exceeds this multiple of max(its value before
        training, 1). None: stop on non-finite losses only.
    seed : int or None, default=None
        Seed of the shuffling generator (None: a fresh random seed).
    verbose : bool, default=False
        A tqdm progress bar advancing per epoch.
    """

    max_epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    lr_schedule: str = "plateau"
    patience: int | None = 10
    accumulation_steps: int = 1
    device: str = "cpu"
    amp: bool | str | None = True
    num_workers: int | None = None
    max_grad_norm: float | None = None
    checkpoint_path: str | os.PathLike[str] | None = None
    resume: bool = False
    divergence_factor: float | None = 10.0
    seed: int | None = None
    verbose: bool = False

    def check(self) -> None:
        """Raise ValueError/TypeError naming the first bad setting."""
        for name in ("max_epochs", "batch_size", "accumulation_steps"):
            value = getattr(self, name)
            low = 0 if name == "max_epochs" else 1
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        if self.patience is not None and (
            isinstance(self.patience, bool) or not isinstance(self.patience, int)
        ):
            raise TypeError(f"patience must be an int or None, got {type(self.patience).__name__}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        for name in ("learning_rate", "weight_decay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0 or (name == "learning_rate" and value == 0):
                raise ValueError(f"{name} must be a finite number > 0 (>= 0 for weight_decay)")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}")
        if self.divergence_factor is not None and not self.divergence_factor > 1:
            raise ValueError(f"divergence_factor must be > 1 or None, got {self.divergence_factor}")
        if not (self.amp is None or isinstance(self.amp, bool) or self.amp in AMP_DTYPES):
            raise ValueError(
                f"amp must be True, False, None or one of {tuple(AMP_DTYPES)}, got {self.amp!r}"
            )
        if self.resume and self.checkpoint_path is None:
            raise ValueError("resume=True needs a checkpoint_path")


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch`` (from 1), ``train_deviance`` (the
        weighted mean loss over the epoch's batches, as they were trained),
        ``val_deviance`` (NaN without validation data), ``lr``, ``seconds``.
    best_epoch : int
        The epoch whose weights the model holds at the end (0: the starting
        weights, when no epoch improved the validation deviance).
    best_value : float
        Its validation deviance (training deviance without validation data).
    stopped_early : bool
        Whether early stopping ended the run before ``max_epochs``.
    start_train, start_val : float
        Training and validation deviance before the first step (NaN without
        validation data).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_value: float = math.inf
    stopped_early: bool = False
    start_train: float = math.nan
    start_val: float = math.nan

    @property
    def n_epochs(self) -> int:
        """Epochs run (resumed ones included)."""
        return len(self.history)


# ----------------------------------------------------------------------------- data
def _device(device: str | torch.device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err


def _world() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed process group; (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_sum(t: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        dist.all_reduce(t)
    return t


class _Batches(Sampler[list[int]]):
    """Row indices of this process's batches: one permutation per epoch, in global batches.

    Global batches of ``batch_size * world`` consecutive rows of the epoch's
    permutation (rows in order without a generator), of which process
    ``rank`` takes slice ``rank``. A last global batch too small to give
    every process a row is left out (with one process: never).
    """

    def __init__(self, n: int, batch_size: int, generator: Any, rank: int, world: int) -> None:
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.rank, self.world = rank, world

    def _global(self) -> list[torch.Tensor]:
        order = (
            torch.randperm(self.n, generator=self.generator)
            if self.generator is not None
            else torch.arange(self.n)
        )
        size = self.batch_size * self.world
        return [b for b in torch.split(order, size) if len(b) >= self.world]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._global():
            yield torch.tensor_split(batch, self.world)[self.rank].tolist()

    def __len__(self) -> int:
        size = self.batch_size * self.world
        full, rest = divmod(self.n, size)
        return full + (rest >= self.world)


def _loader(
    data: Dataset,
    batch_size: int,
    device: torch.device,
    num_workers: int | None,
    generator: Any,
    rank: int = 0,
    world: int = 1,
) -> DataLoader:
    """Batches of row indices -> the dataset's batched tensors (shuffled when generator).

    ``generator`` drives the shuffling only (one permutation per epoch), so
    the batches do not depend on the number of workers or on whether they
    persist across epochs; the DataLoader draws its worker seeds from a
    generator of its own (the dataset itself uses no randomness).
    """
    n = len(data)  # type: ignore[arg-type]
    cuda = device.type == "cuda"
    workers = (2 if cuda else 0) if num_workers is None else int(num_workers)
    return DataLoader(
        data,
        sampler=_Batches(n, batch_size, generator, rank, world),
        batch_size=None,
        num_workers=workers,
        pin_memory=cuda,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )


def _to(batch: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    return [t.to(device, non_blocking=True) for t in batch]


def _groups(loader: DataLoader, k: int) -> Iterator[list[Any]]:
    group: list[Any] = []
    for batch in loader:
        group.append(batch)
        if len(group) == k:
            yield group
            group = []
    if group:
        yield group


def _autocast(device: torch.device, amp: bool | str | None) -> tuple[bool, torch.dtype]:
    """(whether to autocast, its dtype): a named dtype anywhere; True: CUDA only, bfloat16 if it can."""
    if isinstance(amp, str):
        if amp not in AMP_DTYPES:
            raise ValueError(
                f"amp must be True, False, None or one of {tuple(AMP_DTYPES)}, got {amp!r}"
            )
        return True, AMP_DTYPES[amp]
    if not (amp and device.type == "cuda"):
        return False, torch.float32
    bf16 = torch.cuda.is_bf16_supported()
    return True, torch.bfloat16 if bf16 else torch.float16


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    data: Dataset,
    *,
    batch_size: int = 4096,
    device: str | torch.device = "cpu",
    amp: bool | str | None = True,
) -> float:
    """Weighted mean loss of ``model`` on ``data`` (in eval mode, without gradients)."""
    device = _device(device)
    use_amp, amp_dtype = _autocast(device, amp)
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    weight = torch.zeros((), dtype=torch.float64, device=device)
    for batch in _loader(data, batch_size, device, 0, None):
        *inputs, y, w = _to(batch, device)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            eta = model(*inputs)
        w_sum = w.sum(dtype=torch.float64)
        total += loss_fn(eta, y, w).double() * w_sum
        weight += w_sum
    model.train(was_training)
    if not float(weight) > 0:
        raise ValueError("the data to evaluate have zero total sample weight")
    return float(total / weight)


# ---------------------------------------------------------------------- checkpoints
def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a reader never sees a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- loop
def train(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    train_data: Dataset,
    val_data: Dataset | None = None,
    config: TrainConfig | None = None,
    *,
    prox: Callable[[torch.optim.Optimizer], None] | None = None,
    callbacks: Sequence[Callable[[dict[str, float]], None]] = (),
) -> TrainResult:
    """Train ``model`` on ``train_data``; keep the weights with the best validation deviance.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(*inputs)`` on a batch ``(*inputs, y, sample_weight)``;
        returns the linear predictor (offsets included). It is moved to
        ``config.device`` and left there.
    loss_fn : callable
        ``loss_fn(eta, y, sample_weight)`` -> weighted mean loss, e.g.
        :class:`glmlib.nn.GLMLoss`.
    train_data, val_data : Dataset
        As in the module docstring. Without ``val_data`` there is no early
        stopping and the final weights are kept.
    config : TrainConfig, optional
        Defaults to ``TrainConfig()``.
    prox : callable, optional
        Called as ``prox(optimizer)`` after every optimizer step (e.g.
        :class:`glmlib.nn.ElasticNetProx`).
    callbacks : sequence of callables
        Each called with the epoch's history record after its checkpoint is
        written.

    Returns
    -------
    TrainResult

    Raises
    ------
    DivergenceError
        When an epoch's training or validation loss is not finite.
    """
    cfg = config if config is not None else TrainConfig()
    cfg.check()
    device = _device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={cfg.device!r} was requested but PyTorch sees no CUDA device")
    model.to(device)
    rank, world = _world()
    net: nn.Module = model
    if world > 1 and device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        net = DistributedDataParallel(model, device_ids=[index])
    elif world > 1:
        net = DistributedDataParallel(model)
    use_amp, amp_dtype = _autocast(device, cfg.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer: torch.optim.Optimizer
    if cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler: Any = None
    if cfg.lr_schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=max(1, (cfg.patience or 10) // 2)
        )
    elif cfg.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, cfg.max_epochs)
        )

    generator = torch.Generator()
    generator.manual_seed(cfg.seed if cfg.seed is not None else int(torch.seed() % 2**63))
    loader = _loader(train_data, cfg.batch_size, device, cfg.num_workers, generator, rank, world)

    result = TrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    start = 0
    path = Path(cfg.checkpoint_path) if cfg.checkpoint_path is not None else None
    if cfg.resume and path is not None and path.is_file():
        ckpt = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        generator.set_state(ckpt["generator"])
        best_state, bad_epochs = ckpt["best_state"], ckpt["bad_epochs"]
        result = TrainResult(
            ckpt["history"],
            ckpt["best_epoch"],
            ckpt["best_value"],
            start_train=ckpt["start_train"],
            start_val=ckpt["start_val"],
        )
        start = len(result.history)
    else:
        result.start_train = evaluate(model, loss_fn, train_data, device=device, amp=cfg.amp)
        if val_data is not None:
            result.start_val = evaluate(model, loss_fn, val_data, device=device, amp=cfg.amp)
            result.best_value, best_state = result.start_val, _state_copy(model)

    progress = progress_bar(
        cfg.max_epochs,
        enabled=bool(cfg.verbose) and rank == 0,
        initial=start,
        desc="epochs",
        unit="epoch",
    )
    for epoch in range(start + 1, cfg.max_epochs + 1):
        tic = time.perf_counter()
        model.train()
        total = torch.zeros((), dtype=torch.float64, device=device)
        weight = torch.zeros((), dtype=torch.float64, device=device)
        for group in _groups(loader, cfg.accumulation_steps):
            batches = [_to(b, device) for b in group]
            # the step's total weight over its micro-batches and processes: each
            # micro-batch's mean loss counts by its share of it (DDP then averages
            # over processes, hence the factor world)
            step_weight = _all_sum(
                torch.stack([b[-1].sum(dtype=torch.float64) for b in batches]).sum(), world
            )
            for i, (*inputs, y, w) in enumerate(batches):
                last = i == len(batches) - 1
                sync = nullcontext() if last or world == 1 else net.no_sync()  # type: ignore[operator]
                with sync:
                    with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                        eta = net(*inputs)
                    loss = loss_fn(eta, y, w)
                    w_sum = w.sum(dtype=torch.float64)
                    share = (w_sum * world / step_weight).to(loss.dtype)
                    scaler.scale(loss * share).backward()
                total += loss.detach().double() * w_sum
                weight += w_sum
            if cfg.max_grad_norm is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            if prox is not None:
                prox(optimizer)
        lr = float(optimizer.param_groups[0]["lr"])
        train_dev = float(_all_sum(total, world) / _all_sum(weight, world))
        val_dev = (
            evaluate(model, loss_fn, val_data, device=device, amp=cfg.amp)
            if val_data is not None
            else math.nan
        )
        for name, value, before in (
            ("training", train_dev, result.start_train),
            ("validation", val_dev, result.start_val),
        ):
            if name == "validation" and val_data is None:
                continue
            factor = cfg.divergence_factor
            if not math.isfinite(value) or (
                factor is not None and value > factor * max(before, 1.0)
            ):
                progress.close()
                why = (
                    f"is {value}"
                    if not math.isfinite(value)
                    else f"is {value:.4g}, more than {factor:g} times its value before training "
                    f"({before:.4g}) or 1"
                )
                raise DivergenceError(
                    f"training diverged at epoch {epoch}: the {name} loss {why}. "
                    f"Try a smaller learning_rate (it was {lr:g})."
                )
        monitored = val_dev if val_data is not None else train_dev
        if scheduler is not None:
            scheduler.step(monitored) if cfg.lr_schedule == "plateau" else scheduler.step()
        if val_data is None or monitored < result.best_value:
            result.best_value, result.best_epoch, bad_epochs = monitored, epoch, 0
            if val_data is not None:
                best_state = _state_copy(model)
        else:
            bad_epochs += 1
        record = {
            "epoch": epoch,
            "train_deviance": train_dev,
            "val_deviance": val_dev,
            "lr": lr,
            "seconds": time.perf_counter() - tic,
        }
        result.history.append(record)
        if path is not None and rank == 0:
            _save_checkpoint(
                path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "scaler": scaler.state_dict(),
                    "generator": generator.get_state(),
                    "best_state": best_state,
                    "bad_epochs": bad_epochs,
                    "history": result.history,
                    "best_epoch": result.best_epoch,
                    "best_value": result.best_value,
                    "start_train": result.start_train,
                    "start_val": result.start_val,
                },
            )
        progress.update(1)
        progress.set_postfix(train=f"{train_dev:.5g}", val=f"{val_dev:.5g}", lr=f"{lr:.2g}")
        for callback in callbacks:
            callback(record)
        if cfg.patience is not None and val_data is not None and bad_epochs >= cfg.patience:
            result.stopped_early = epoch < cfg.max_epochs
            break
    progress.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return result
