"""Image segmentation by colour: a mixture over the RGB values of an image's pixels.

The photograph is scikit-learn's sample image ``china.jpg`` (427 x 640 pixels; reading it
needs pillow).  A mixture with ``--n-components`` full-covariance components is fitted to a
random subsample of the pixels' colours (``--sample`` pixels), every pixel is then assigned
to its most probable component, and the segmented image replaces each pixel by its
component's mean colour - a ``k``-colour rendering of the photograph.

Run::

    python examples/image_segmentation.py [--out DIR] [--n-components K] [--sample N]

Writes into ``--out`` (default: a new temporary directory):

* ``original.png``      the input image
* ``segmented.png``     the image with each pixel replaced by its component's mean colour
* ``comparison.png``    both side by side
* ``colour_space.png``  the components' ellipses over the sampled colours (first two
  principal components of RGB space)
* ``segments.json``     the palette (one RGB triple per component), each component's
  share of the pixels, the image shape
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_image

from gaussmix import GaussianMixture
from gaussmix.plot import plot_ellipses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--sample", type=int, default=10_000, help="pixels used to fit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="gaussmix-image-"))
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    image = load_sample_image("china.jpg")  # (height, width, 3) uint8
    height, width, _ = image.shape
    pixels = image.reshape(-1, 3).astype(np.float64) / 255.0
    rng = np.random.default_rng(args.seed)
    sample = pixels[rng.choice(len(pixels), size=min(args.sample, len(pixels)), replace=False)]
    print(f"china.jpg: {height} x {width} pixels; fitting {len(sample)} of them")

    model = GaussianMixture(args.n_components, covariance_type="full", random_state=args.seed)
    model.fit(sample)
    print(
        f"{args.n_components} components, {model.n_iter_} EM iterations, "
        f"converged: {model.converged_}"
    )

    labels = model.predict(pixels)  # all pixels, in chunks
    palette = np.clip(np.rint(model.means_ * 255.0), 0, 255).astype(np.uint8)
    segmented = palette[labels].reshape(image.shape)
    shares = np.bincount(labels, minlength=args.n_components) / len(labels)
    for j in np.argsort(-shares):
        r, g, b = palette[j]
        print(f"  component {j}: #{r:02x}{g:02x}{b:02x}  {shares[j]:6.1%} of the pixels")

    Image.fromarray(image).save(out / "original.png")
    Image.fromarray(segmented).save(out / "segmented.png")
    (out / "segments.json").write_text(
        json.dumps(
            {
                "image": "china.jpg",
                "shape": [height, width, 3],
                "n_components": args.n_components,
                "palette": palette.tolist(),
                "pixel_share": shares.round(6).tolist(),
                "weights": model.weights_.round(6).tolist(),
            },
            indent=2,
        ),
        encoding="utf-8",
    )

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    axes[0].imshow(image)
    axes[0].set_title("original")
    axes[1].imshow(segmented)
    axes[1].set_title(f"{args.n_components} colours (component means)")
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 5.5))
    plot_ellipses(model, sample, ax=ax, n_std=(1, 2), legend=False)
    ax.set_title("Pixel colours and components (RGB, projected)")
    fig.tight_layout()
    fig.savefig(out / "colour_space.png", dpi=100)
    plt.close(fig)

    print(
        f"Wrote original.png, segmented.png, comparison.png, colour_space.png, "
        f"segments.json to {out}"
    )
    print(f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
