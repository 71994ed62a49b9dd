import sys

from local.loadtest.run import main

if __name__ == "__main__":
    sys.exit(main())
