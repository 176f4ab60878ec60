from devstack.demo.runner import main

raise SystemExit(main())
