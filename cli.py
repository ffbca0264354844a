"""Run the ``distant`` command line from a checkout: ``python cli.py --help``."""

from distant.cli import main

if __name__ == "__main__":
    main()
