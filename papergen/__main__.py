from papergen.cli import main

main()
