"""Gradient codecs (compressors) and the learner-side memory policies that wrap them."""

from asyncsgd.codecs import (  # noqa: F401  (fill the registry)
    dropping,
    identity,
    onebit,
    qsgd,
    randomk,
    sign,
    terngrad,
    threshold,
    topk,
    wangni,
)
from asyncsgd.codecs.base import CODECS, Capabilities, Codec, keep_count
from asyncsgd.codecs.memory import Compressor, ErrorFeedback, Memoryless, make_compressor
from asyncsgd.vocabulary.flat import FlatLayout


def make_codec(name: str, layout: FlatLayout, **params: object) -> Codec:
    """Build the registered codec ``name`` for ``layout`` with its own parameters."""
    return CODECS.get(name)(layout, **params)


__all__ = [
    "CODECS",
    "Capabilities",
    "Codec",
    "Compressor",
    "ErrorFeedback",
    "Memoryless",
    "keep_count",
    "make_codec",
    "make_compressor",
]
