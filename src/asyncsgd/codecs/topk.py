"""Top-k sparsification: keep the k largest-magnitude coordinates (Stich et al. 2018; Alistarh et
al. 2018). Deterministic and biased; contractive with δ = k/d, which is what makes error feedback
converge. Scope ``global`` selects k = ⌊ρ·d⌋ over the whole vector; ``layer`` selects
k_l = max(1, ⌊ρ·d_l⌋) in every layer (so every layer is always represented)."""

from __future__ import annotations

import numpy as np
import torch

from asyncsgd.codecs.base import (
    CODECS,
    RATIO,
    SCOPE,
    ArraySpec,
    Capabilities,
    Codec,
    check_ratio,
    check_scope,
    keep_count,
)
from asyncsgd.codecs.selection import TopKSelector
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update


class Sparsifier(Codec):
    """Shared shape of the k-of-d sparsifiers: ``values`` at ascending ``indices``."""

    def __init__(self, layout: FlatLayout, ratio: float, scope: str = "global") -> None:
        super().__init__(layout)
        self.ratio = check_ratio(ratio)
        self.scope = check_scope(scope)
        if self.scope == "global":
            self.groups = [(0, self.size, keep_count(self.ratio, self.size))]
        else:
            self.groups = [(s.offset, s.stop, keep_count(self.ratio, s.numel)) for s in layout]
        self.k = sum(k for _, _, k in self.groups)

    def contraction(self) -> float:
        """Worst group's k_l/d_l: the δ that holds for every vector."""
        return min(k / (stop - start) for start, stop, k in self.groups)

    def estimate_nbytes(self) -> int:
        return self.encode_size()

    def encode_size(self) -> int:
        raise NotImplementedError


@CODECS.register("topk", "k largest magnitudes, sent as values + int32 indices")
class TopK(Sparsifier):
    """``C(x)_i = x_i`` if ``|x_i|`` is among the k largest, else 0."""

    name = "topk"
    shard_cut = "coordinates"
    settings = (RATIO, SCOPE)
    reference = (
        "Stich, Cordonnier & Jaggi, Sparsified SGD with memory, NeurIPS 2018; "
        "Alistarh et al., The convergence of sparsified gradient methods, NeurIPS 2018"
    )

    def __init__(self, layout: FlatLayout, ratio: float, scope: str = "global") -> None:
        super().__init__(layout, ratio, scope)
        self._selector = TopKSelector()
        self._spec = {
            "values": ArraySpec(torch.float32, self.k),
            "indices": ArraySpec(self.index_dtype, self.k),
        }

    @property
    def caps(self) -> Capabilities:
        return Capabilities(contraction=self.contraction(), sparse=True)

    def select(self, x: torch.Tensor) -> np.ndarray:
        xn = x.detach().numpy()
        parts = [self._selector.select(xn[start:stop], k) + start for start, stop, k in self.groups]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        idx = self.select(x)
        values = torch.from_numpy(x.detach().numpy()[idx])
        indices = torch.from_numpy(idx.astype(np.int32 if self.index_dtype == torch.int32 else np.int64))
        return Payload(self.name, {"values": values, "indices": indices})

    def decode(self, payload: Payload) -> Update:
        return Update(payload.arrays["values"], self.size, indices=payload.arrays["indices"])

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self._spec

    def encode_size(self) -> int:
        return self.k * (4 + self.index_dtype.itemsize)
