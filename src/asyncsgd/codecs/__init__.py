"""Gradient codecs (compressors) and the learner-side memory policies that wrap them."""

from asyncsgd.codecs.base import CODECS, Capabilities, Codec, keep_count
from asyncsgd.codecs.memory import Compressor, ErrorFeedback, Memoryless, make_compressor
from asyncsgd.registry import import_modules
from asyncsgd.vocabulary.flat import FlatLayout

import_modules(__name__, __path__)  # each module registers its parts


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
