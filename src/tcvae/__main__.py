import sys

from tcvae.cli.main import main

sys.exit(main())
