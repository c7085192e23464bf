import sys

from sync_pipeline.cli.main import main

sys.exit(main())
