"""`python -m drctl`: the same as the `drctl` console script."""

from drctl.main import main

main()
