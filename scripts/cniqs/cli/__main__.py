from cniqs.cli.main import main

raise SystemExit(main())
