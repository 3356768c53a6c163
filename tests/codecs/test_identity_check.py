"""The dense codec's quick well-formedness check answers as the generic one does."""

from __future__ import annotations

import pytest
import torch

from asyncsgd.codecs.base import Codec
from asyncsgd.codecs.identity import Identity
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload

SIZE = 12
CODEC = Identity(FlatLayout.single(SIZE))

PAYLOADS = {
    "well formed": Payload("identity", {"values": torch.zeros(SIZE)}),
    "with a scalar": Payload("identity", {"values": torch.zeros(SIZE)}, {"seed": 3}),
    "other codec": Payload("topk", {"values": torch.zeros(SIZE)}),
    "float64": Payload("identity", {"values": torch.zeros(SIZE, dtype=torch.float64)}),
    "short": Payload("identity", {"values": torch.zeros(SIZE - 1)}),
    "two-dimensional": Payload("identity", {"values": torch.zeros(3, 4)}),
    "extra array": Payload("identity", {"values": torch.zeros(SIZE), "indices": torch.zeros(2)}),
    "no values": Payload("identity", {"grad": torch.zeros(SIZE)}),
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_identity_check_agrees_with_the_generic_check(name):
    payload = PAYLOADS[name]
    quick, generic = CODEC.check(payload), Codec.check(CODEC, payload)
    assert quick == generic
    assert (quick is None) == name.startswith(("well", "with"))
