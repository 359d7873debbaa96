from dissector.cli import main

raise SystemExit(main())
