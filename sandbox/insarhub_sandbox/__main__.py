from insarhub_sandbox.cli import main

raise SystemExit(main())
