"""Text classifiers over padded token ids."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from asyncsgd.data.base import PAD_ID
from asyncsgd.models.base import MODELS


class TextBag(nn.Module):
    """``logits = W · mean_{t ∈ doc, t ≠ pad} E[t] + b``: an embedding bag and a linear layer.

    The bag averages the embeddings of a document's words and ignores padding, so documents of
    any length share one padded ``(N, L)`` input; a linear classifier on averaged word vectors is
    the fastText model (Joulin et al. 2017) without n-grams.
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_classes: int) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, embed_dim, mode="mean", padding_idx=PAD_ID)
        self.out = nn.Linear(embed_dim, num_classes)
        with torch.no_grad():
            self.embed.weight.uniform_(-1.0 / embed_dim, 1.0 / embed_dim)
            self.embed.weight[PAD_ID].zero_()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(ids))


@MODELS.register(
    "textbag",
    "text classifier: mean of word embeddings (`embed_dim`), then a linear layer",
    inputs="tokens",
    sized_by="embed_dim",
)
def textbag(
    input_shape: Sequence[int], num_classes: int, vocab_size: int = 0, embed_dim: int = 64, **_: object
) -> nn.Module:
    if len(input_shape) != 1 or vocab_size < 1:
        raise ValueError(
            f"textbag needs padded token ids (N, L) and a vocabulary, got shape {tuple(input_shape)}"
        )
    return TextBag(vocab_size, int(embed_dim), num_classes)
