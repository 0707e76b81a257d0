"""Support code shared by the tests: a running service (`service`), Flex event builders
(`events`, `change_events`), processes started and stopped as users run them (`processes`),
brute-force oracles, the Sharetribe stand-in and its sync driver, fault-injecting proxies, the
real Flex SDK's folder (`sdk`) and the storefront page in a browser (`browser_page`)."""
