import sys

from sessiongraph.clients.admin.cli import main

sys.exit(main())
