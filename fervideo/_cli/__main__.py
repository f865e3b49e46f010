from fervideo._cli import main

main()
