"""Flat parameter vectors with a per-layer layout.

Every model is trained as one contiguous float32 vector ``x`` of size ``d``. A :class:`FlatLayout`
records where each named parameter lives in it, so codecs can work globally (one selection over
all ``d`` coordinates) or per layer (one selection per segment), and byte counts are trivial.

:class:`FlatModel` rewires an ``nn.Module`` so its parameters are views into one flat buffer and
its gradients accumulate into a second one: a gradient evaluation at any point ``x`` is a copy
into the buffer, a forward and a backward pass, with no per-layer packing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Segment:
    """One named tensor inside the flat vector: ``x[offset : offset + numel].view(shape)``."""

    name: str
    offset: int
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def stop(self) -> int:
        return self.offset + self.numel


@dataclass(frozen=True)
class FlatLayout:
    """Ordered, gap-free segments covering ``[0, size)``."""

    segments: tuple[Segment, ...]

    @classmethod
    def from_shapes(cls, named_shapes: list[tuple[str, tuple[int, ...]]]) -> FlatLayout:
        segments, offset = [], 0
        for name, shape in named_shapes:
            seg = Segment(name, offset, tuple(int(s) for s in shape))
            segments.append(seg)
            offset = seg.stop
        return cls(tuple(segments))

    @classmethod
    def single(cls, size: int, name: str = "x") -> FlatLayout:
        return cls.from_shapes([(name, (size,))])

    @property
    def size(self) -> int:
        return self.segments[-1].stop if self.segments else 0

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named, shaped views into ``flat`` (no copies)."""
        return {s.name: flat[s.offset : s.stop].view(s.shape) for s in self.segments}


class FlatModel:
    """An ``nn.Module`` whose parameters and gradients live in two flat float32 buffers.

    The module is modified in place: ``p.data`` and ``p.grad`` of every parameter become views
    into :attr:`params` and :attr:`grads`. Buffers (e.g. BatchNorm statistics) stay where they
    are and are not part of the flat vector: they are local to whichever process owns the module.

    With a ``device`` other than the CPU, :attr:`params` and :attr:`grads` stay host vectors (the
    server, codecs and memories read them), and the module computes in a mirror pair on the
    device: a gradient is one host-to-device copy of ``x``, the passes on the device, and one
    device-to-host copy of the gradient. Inputs are moved to the device batch by batch.
    """

    def __init__(
        self, module: nn.Module, loss_fn: LossFn | None = None, device: str | torch.device = "cpu"
    ) -> None:
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("model has no trainable parameters")
        self.module = module
        self.loss_fn: LossFn = loss_fn or nn.functional.cross_entropy
        self.layout = FlatLayout.from_shapes([(n, tuple(p.shape)) for n, p in named])
        self.device = torch.device(device)
        with torch.no_grad():
            self.params = torch.cat([p.detach().reshape(-1).float().cpu() for _, p in named])
        self.grads = torch.zeros_like(self.params)
        self._mode: bool | None = None  # train/eval mode last set (module.train() walks the tree)
        self._mirrored = self.mirrors(self.device)
        if self._mirrored:
            module.to(self.device)  # buffers (BatchNorm statistics) live with the computation
            self._compute_params = self.params.to(self.device, copy=True)
            self._compute_grads = torch.zeros_like(self._compute_params)
        else:
            self._compute_params, self._compute_grads = self.params, self.grads
        for (_, p), seg in zip(named, self.layout, strict=True):
            p.data = self._compute_params[seg.offset : seg.stop].view(seg.shape)
            p.grad = self._compute_grads[seg.offset : seg.stop].view(seg.shape)

    @staticmethod
    def mirrors(device: torch.device) -> bool:
        """Whether the module computes in a device mirror of the host buffers."""
        return device.type != "cpu"

    @property
    def size(self) -> int:
        return self.layout.size

    def _set_mode(self, training: bool) -> None:
        if self._mode is not training:
            self.module.train(training)
            self._mode = training

    def load(self, x: torch.Tensor) -> None:
        """Make the module compute at point ``x`` (a copy unless ``x`` is the buffer itself).

        On a device the host buffer may have been changed in place since the last call (the
        simulator's server shares it), so the mirror is always refreshed."""
        if self._mirrored or x.data_ptr() != self.params.data_ptr():
            self._compute_params.copy_(x)

    def gradient(self, x: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Mini-batch loss at ``x``; its gradient is left in :attr:`grads` (valid until the next call).

        The loss averages over the batch, so this is the *mean* per-sample gradient.
        """
        self.load(x)
        self._compute_grads.zero_()
        self._set_mode(True)
        loss = self.loss_fn(self.module(inputs.to(self.device)), targets.to(self.device))
        loss.backward()
        if self._mirrored:
            self.grads.copy_(self._compute_grads)
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(
        self, x: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 2048
    ) -> tuple[float, float]:
        """Mean loss and accuracy of the model at ``x`` on ``(inputs, targets)``."""
        self.load(x)
        self._set_mode(False)
        total_loss, correct, n = 0.0, 0, int(targets.shape[0])
        for start in range(0, n, batch_size):
            xb = inputs[start : start + batch_size].to(self.device)
            yb = targets[start : start + batch_size].to(self.device)
            out = self.module(xb)
            total_loss += float(self.loss_fn(out, yb)) * int(yb.shape[0])
            correct += int((out.argmax(dim=1) == yb).sum())
        return total_loss / max(n, 1), correct / max(n, 1)
