"""Engine per-op overhead vs PyTorch: `python benchmarks/op_overhead.py` (see RESULTS.md)."""
from chainrule.bench.ops import main

raise SystemExit(main())
