import sys

from clients.admin.cli import main

sys.exit(main())
