from source_qualtrics.run import run

if __name__ == "__main__":
    run()
