from distant.cli import main

main()
