"""Write the synthetic shapes corpus (flamingo/synthetic.py) as interleaf shards:
OUT/train/shard-*.tar and OUT/heldout/shard-*.tar (held-out images are new drawings).

    python scripts/make_synthetic_corpus.py OUT --train 4000 --heldout 200 --image-size 32
"""

from __future__ import annotations

import argparse

from interleaf.flamingo.synthetic import write_corpus


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--train", type=int, default=4000, help="training documents")
    p.add_argument("--heldout", type=int, default=200, help="held-out documents")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    paths = write_corpus(a.out, a.train, a.heldout, a.image_size, a.seed)
    for split, shards in paths.items():
        print(split, " ".join(str(s) for s in shards))


if __name__ == "__main__":
    main()
