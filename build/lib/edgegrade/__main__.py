# `python -m edgegrade ...` and `torchrun -m edgegrade train ...` enter here.
from edgegrade.cli import main

if __name__ == "__main__":
    main()
