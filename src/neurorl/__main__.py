from neurorl.cli import main

raise SystemExit(main())
