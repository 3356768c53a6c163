"""Run every benchmark and write its JSON to benchmarks/results/ (``make bench``)."""

from benchmarks import local_throughput, ps_roundtrip, sim_overhead, topk_selection

if __name__ == "__main__":
    for module in (topk_selection, sim_overhead, ps_roundtrip, local_throughput):
        print(f"== {module.__name__}")
        module.main()
