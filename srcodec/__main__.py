"""``python -m srcodec`` runs the command line."""

from .cli import main

main()
