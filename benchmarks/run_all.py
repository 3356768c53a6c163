"""Run every benchmark and write its JSON to benchmarks/results/ (``make bench``)."""

from benchmarks import sim_overhead, sweep_parallel, topk_selection

if __name__ == "__main__":
    for module in (topk_selection, sim_overhead, sweep_parallel):
        print(f"== {module.__name__}")
        module.main()
