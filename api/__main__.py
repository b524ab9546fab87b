from paulp.api.cli import main

main()
