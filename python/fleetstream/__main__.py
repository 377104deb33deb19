from fleetstream.cli import main

raise SystemExit(main())
