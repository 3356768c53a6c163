"""Random-k sparsification: keep k coordinates drawn uniformly without replacement (Stich et al.
2018). The indices come from a private generator seeded by the push's seed, and only the seed
travels, so a push costs ``4·k + 8`` bytes. Unscaled, it is contractive in expectation with
δ = k/d; with ``unbiased=True`` the kept values are multiplied by d/k (d_l/k_l per layer), which
makes it unbiased and no longer contractive."""

from __future__ import annotations

import numpy as np
import torch

from asyncsgd.codecs.base import CODECS, RATIO, SCOPE, ArraySpec, Capabilities
from asyncsgd.codecs.topk import Sparsifier
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update
from asyncsgd.vocabulary.settings import setting

UNBIASED = setting("unbiased", False, "randomk: scale kept values by d/k (unbiased, not contractive)")


@CODECS.register("randomk", "k uniformly random coordinates; indices regenerated from a sent seed")
class RandomK(Sparsifier):
    """``C(x)_i = s·x_i`` for i in a seeded uniform k-subset, else 0 (s = 1, or d/k if unbiased)."""

    name = "randomk"
    settings = (RATIO, SCOPE, UNBIASED)
    scalars = ("seed",)
    reference = "Stich, Cordonnier & Jaggi, Sparsified SGD with memory, NeurIPS 2018"

    def __init__(
        self, layout: FlatLayout, ratio: float, scope: str = "global", unbiased: bool = False
    ) -> None:
        super().__init__(layout, ratio, scope)
        self.unbiased = bool(unbiased)
        self._spec = {"values": ArraySpec(torch.float32, self.k)}
        self._scale = (
            torch.cat([torch.full((k,), (b - a) / k) for a, b, k in self.groups]) if self.unbiased else None
        )

    @property
    def caps(self) -> Capabilities:
        if self.unbiased:
            return Capabilities(unbiased=True, needs_seed=True, sparse=True)
        return Capabilities(contraction=self.contraction(), needs_seed=True, sparse=True)

    def indices(self, seed: int) -> np.ndarray:
        rng = np.random.Generator(np.random.PCG64(seed))
        parts = []
        for start, stop, k in self.groups:
            pick = rng.choice(stop - start, size=k, replace=False, shuffle=False)
            pick.sort()
            parts.append(pick + start)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        values = torch.from_numpy(x.detach().numpy()[self.indices(seed)])
        if self._scale is not None:
            values.mul_(self._scale)
        return Payload(self.name, {"values": values}, {"seed": int(seed)})

    def decode(self, payload: Payload) -> Update:
        idx = torch.from_numpy(self.indices(int(payload.scalars["seed"])))
        return Update(payload.arrays["values"], self.size, indices=idx)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self._spec

    def encode_size(self) -> int:
        return 4 * self.k + 8
