"""The tutorial's MNIST run, chainrule vs PyTorch:  python benchmarks/seed_workload.py [--iters N]"""
from chainrule.bench.seed import main

raise SystemExit(main())
