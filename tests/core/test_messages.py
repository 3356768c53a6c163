import numpy as np
import pytest
import torch

from asyncsgd.vocabulary.messages import SCATTER_MIN, Update


@pytest.mark.parametrize("k", [SCATTER_MIN, 3 * SCATTER_MIN])
@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
def test_sparse_add_matches_index_add_bit_for_bit(k, index_dtype):
    """From ``SCATTER_MIN`` coordinates on, ``add_to`` scatters, and adds exactly what
    ``index_add_`` adds, repeated coordinates (summed in index order) and a scale included."""
    size = 4 * SCATTER_MIN
    rng = np.random.default_rng(k)
    indices = torch.from_numpy(rng.integers(0, size, k)).to(index_dtype)  # unsorted, with repeats
    values = torch.from_numpy(rng.standard_normal(k).astype(np.float32))
    start = torch.from_numpy(rng.standard_normal(size).astype(np.float32))
    for alpha, scale in [(1.0, 1.0), (-0.037, 1.0), (-0.1, 1 / 3)]:
        ours, reference = start.clone(), start.clone()
        Update(values, size, indices=indices, scale=scale).add_to(ours, alpha=alpha)
        reference.index_add_(0, indices, values, alpha=alpha * scale)
        assert torch.equal(ours, reference), (k, alpha, scale)
        assert not torch.equal(ours, start)
