"""`python -m web`."""

from web.server import main

main()
