from tlsprobe.cli import main

raise SystemExit(main())
