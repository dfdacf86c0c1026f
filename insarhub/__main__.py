from insarhub.cli import main

raise SystemExit(main())
