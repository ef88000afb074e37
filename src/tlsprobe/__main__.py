from tlsprobe.start import main

raise SystemExit(main())
