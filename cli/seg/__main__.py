from seg.commands.app import main

main()
