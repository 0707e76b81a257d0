from listing_search.cli import main

raise SystemExit(main())
