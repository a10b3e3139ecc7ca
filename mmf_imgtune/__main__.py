"""``python -m mmf_imgtune ...`` is ``mmf_run ...``."""

from mmf_imgtune.cli.run import main

if __name__ == "__main__":
    main()
