"""`python -m chainrule` is the same as the `chainrule` command."""
from chainrule.cli import main

raise SystemExit(main())
