"""Run every benchmark and write its JSON to benchmarks/results/ (``make bench``); ``benchmarks.gpu``
needs a CUDA device and runs on its own."""

from benchmarks import (
    capacity,
    codec_throughput,
    fault_soak,
    local_shards,
    local_throughput,
    ps_roundtrip,
    pull_changes,
    ray_engine,
    ray_multinode,
    ray_overhead,
    ray_transport,
    shard_decode,
    sim_breakdown,
    sim_overhead,
    sim_parallel,
    sparse_apply,
    sweep_parallel,
    sweep_ray,
    theory_lr,
    threads_default,
    topk_selection,
)

if __name__ == "__main__":
    for module in (
        topk_selection,
        sim_overhead,
        sim_breakdown,
        sim_parallel,
        threads_default,
        codec_throughput,
        theory_lr,
        sweep_parallel,
        sweep_ray,
        ps_roundtrip,
        pull_changes,
        sparse_apply,
        shard_decode,
        local_shards,
        ray_engine,
        ray_overhead,
        ray_transport,
        ray_multinode,
        local_throughput,
        fault_soak,
        capacity,
    ):
        print(f"== {module.__name__}")
        module.main()
