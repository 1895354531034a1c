"""Image normalisation and download throughput, each against a bare baseline run alongside.

    .venv/bin/python benchmarks/images.py [--rounds 5] [--downloads 2000] [--threads 64]

1. Normalisation, one core: real photographs (the scikit-image sample photos, upscaled and
   saved as JPEG at typical web sizes) through ``normalize_image`` (checks, draft decode, RGB,
   resize, orientation, re-encode, sha1, pHash) against the floor of a bare Pillow
   open + decode + resize to the same size with the same filter. Rounds alternate the two, and the
   median round counts, so load from other processes falls on both alike.
2. Downloads: small JPEGs from a local threaded HTTP server in its own process, through
   ``Downloader`` against a bare urllib3 PoolManager with the same number of threads (no safety
   checks, no scheduling, no byte caps), both over the same 16 hostnames.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import urllib3
from PIL import Image
from skimage import data as samples

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from download_server import ImageServer  # noqa: E402

from interleaf.pipeline.download import DownloadConfig, Downloader  # noqa: E402
from interleaf.pipeline.images import ImageConfig, fit_within, normalize_image  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
# (label, longer side of the input, config): inputs over max_side are resized and re-encoded; the
# 800 px ones pass through (metadata stripped) unless passthrough is off.
CASES = [
    ("800px", 800, ImageConfig()),
    ("800px re-encoded", 800, ImageConfig(passthrough_max_bytes_per_pixel=0)),
    ("1600px", 1600, ImageConfig()),
    ("2400px", 2400, ImageConfig()),
]


def photo_jpegs(longer_side: int) -> list[bytes]:
    out = []
    for name in PHOTOS:
        im = Image.fromarray(np.asarray(getattr(samples, name)())).convert("RGB")
        scale = longer_side / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def bare_decode_resize(data: bytes, config: ImageConfig) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im = im.convert("RGB")
    return im.resize(fit_within(*im.size, config.max_side), Image.Resampling[config.resample.upper()])


def per_image_seconds(fn, images: list[bytes], config: ImageConfig) -> float:
    start = time.perf_counter()
    for data in images:
        fn(data, config)
    return (time.perf_counter() - start) / len(images)


def bench_normalise(rounds: int) -> None:
    config = ImageConfig()
    print(f"## normalisation, one core, {len(PHOTOS)} photos x {rounds} rounds, max_side {config.max_side}, "
          f"{config.format} q{config.quality}, {config.resample}")  # fmt: skip
    print(f"{'input':>18} {'KiB/img':>8} {'floor ms':>9} {'ours ms':>8} {'ours img/s':>11} {'ours/floor':>11}")
    photos = {side: photo_jpegs(side) for side in {side for _, side, _ in CASES}}
    for label, side, config in CASES:
        images = photos[side]
        per_image_seconds(normalize_image, images, config)  # warm up
        floor, ours = [], []
        for _ in range(rounds):
            floor.append(per_image_seconds(bare_decode_resize, images, config))
            ours.append(per_image_seconds(normalize_image, images, config))
        f, o = statistics.median(floor), statistics.median(ours)
        kib = sum(map(len, images)) / len(images) / 1024
        print(f"{label:>18} {kib:8.0f} {f * 1e3:9.1f} {o * 1e3:8.1f} {1 / o:11.1f} {o / f:11.2f}")


def serve(ready, stop) -> None:
    with ImageServer() as server:
        ready.put(server.port)
        stop.wait()


def bench_download(n: int, threads: int, rounds: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve, args=(ready, stop), daemon=True)
    proc.start()
    port = ready.get(timeout=60)
    hosts = [f"h{i}.bench" for i in range(16)]
    names = [f"http://{hosts[i % 16]}:{port}/img/{i}.jpg" for i in range(n)]
    resolve = lambda host, _port: ["127.0.0.1"]  # noqa: E731 - the bench's 16 hosts are all here
    config = DownloadConfig(concurrency=threads, per_host=8, allow_networks=("127.0.0.0/8",))
    try:
        print(f"\n## downloads, {n} small JPEGs ({len(ImageServer().state.image) // 1024} KiB), 16 hosts, "
              f"{threads} threads, server in its own process")  # fmt: skip
        print(f"{'client':>26} {'median s':>8} {'img/s':>8} {'ok':>6}")
        clients = {
            "bare urllib3 threads": lambda: bare_download(names, port, threads),
            "interleaf Downloader": lambda: downloader_download(names, config, resolve),
        }
        times: dict[str, list[float]] = {label: [] for label in clients}
        oks: dict[str, int] = {}
        for _ in range(rounds):  # alternate, so warm-up and load fall on both
            for label, run in clients.items():
                start = time.perf_counter()
                oks[label] = run()
                times[label].append(time.perf_counter() - start)
        rates = {}
        for label, ts in times.items():
            seconds = statistics.median(ts)
            rates[label] = n / seconds
            print(f"{label:>26} {seconds:8.2f} {n / seconds:8.0f} {oks[label]:6d}")
        ratio = rates["interleaf Downloader"] / rates["bare urllib3 threads"]
        print(f"{'Downloader / bare':>26} {ratio:8.2f}")
    finally:
        stop.set()
        proc.join(10)


def downloader_download(urls: list[str], config: DownloadConfig, resolve) -> int:
    with Downloader(config, resolver=resolve) as d:
        return sum(r.ok for r in d.fetch_many(urls))


def bare_download(urls: list[str], port: int, threads: int) -> int:
    pool = urllib3.PoolManager(maxsize=threads, retries=False)  # one pool: every URL is on 127.0.0.1

    def get(url: str) -> bool:
        host, path = url.split("/", 3)[2].split(":")[0], "/" + url.split("/", 3)[3]
        r = pool.request("GET", f"http://127.0.0.1:{port}{path}", headers={"Host": host})
        return r.status == 200 and bool(r.data)

    with ThreadPoolExecutor(threads) as ex:
        return sum(ex.map(get, urls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--downloads", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()
    bench_normalise(args.rounds)
    bench_download(args.downloads, args.threads, args.rounds)


if __name__ == "__main__":
    main()
