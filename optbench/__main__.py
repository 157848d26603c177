from optbench.bench.cli.main import main

raise SystemExit(main())
