from source_qualtrics.run import main

if __name__ == "__main__":
    main()
