from justeval.cli import main

main()
