"""Convert the MTCNN weights of the facenet-pytorch 2.6.0 wheel to ``restoration/weights/mtcnn.safetensors``.

The wheel (``facenet_pytorch-2.6.0-py3-none-any.whl`` from PyPI, MIT licence, Copyright (c) 2019
Timothy Esler) holds the three cascade networks as pickled state dicts,
``facenet_pytorch/data/{pnet,rnet,onet}.pt``. This script reads them from inside the zip (the
wheel is never installed or imported; ``torch.load(weights_only=True)`` unpickles tensors
only), checks every tensor against the shapes of :mod:`restoration.classical.mtcnn`'s networks,
and writes one safetensors file (float32) whose keys are the state-dict names prefixed
``pnet.``, ``rnet.`` and ``onet.``; the metadata names the wheel, its SHA-256, the members read
and the licence. The header is written with sorted keys, so the output is the same byte for
byte on every run.

Usage (from the repository root)::

    python training/convert_mtcnn_weights.py /path/to/facenet_pytorch-2.6.0-py3-none-any.whl
        [--output restoration/weights/mtcnn.safetensors]

It prints the SHA-256 of the wheel and of the file written. Get the wheel with
``pip download facenet-pytorch==2.6.0 --no-deps``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from restoration.classical.mtcnn import WEIGHTS_PATH, ONet, PNet, RNet  # noqa: E402

WHEEL_NAME = "facenet_pytorch-2.6.0-py3-none-any.whl"
NETWORKS = {"pnet": PNet, "rnet": RNet, "onet": ONet}
MEMBER = "facenet_pytorch/data/{}.pt"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_wheel(wheel: Path) -> dict[str, torch.Tensor]:
    """The three networks' tensors from the wheel, prefixed ``pnet.``/``rnet.``/``onet.``, float32.

    Raises:
        ValueError: a member is missing or its tensors do not match the networks' layers.
    """
    tensors: dict[str, torch.Tensor] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name, network in NETWORKS.items():
            member = MEMBER.format(name)
            try:
                payload = archive.read(member)
            except KeyError as error:
                raise ValueError(f"{wheel} has no {member}") from error
            state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
            expected = {key: tuple(value.shape) for key, value in network().state_dict().items()}
            received = {key: tuple(value.shape) for key, value in state.items()}
            if received != expected:
                raise ValueError(f"{member} does not match {network.__name__}: {received} != {expected}")
            tensors.update({f"{name}.{key}": value.detach().float().contiguous() for key, value in state.items()})
    return tensors


def canonical_safetensors(data: bytes) -> bytes:
    """``data`` (a safetensors file) with its JSON header's keys sorted, so that the same tensors
    and metadata always give the same bytes (safetensors writes the metadata in hash order)."""
    size = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the format pads the header with spaces to 8 bytes
    return len(header).to_bytes(8, "little") + header + data[8 + size :]


def main(argv: list[str] | None = None) -> None:
    from safetensors.torch import load_file, save

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("wheel", type=Path, help=f"path to {WHEEL_NAME}")
    parser.add_argument("--output", type=Path, default=WEIGHTS_PATH, help="safetensors file to write")
    args = parser.parse_args(argv)

    if args.wheel.name != WHEEL_NAME:
        parser.error(f"expected {WHEEL_NAME}, got {args.wheel.name}")
    wheel_sha256 = _sha256(args.wheel)
    tensors = read_wheel(args.wheel)
    metadata = {
        "source": f"{WHEEL_NAME} (facenet-pytorch 2.6.0 on PyPI)",
        "source_sha256": wheel_sha256,
        "source_members": ",".join(MEMBER.format(name) for name in NETWORKS),
        "license": "MIT, Copyright (c) 2019 Timothy Esler (restoration/weights/LICENSE-mtcnn.txt)",
        "origin": "facenet-pytorch took them from David Sandberg's facenet, converted from Kaipeng Zhang's Caffe MTCNN",
        "converter": "training/convert_mtcnn_weights.py",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(canonical_safetensors(save(tensors, metadata=metadata)))
    written = load_file(str(args.output))
    if written.keys() != tensors.keys() or not all(torch.equal(written[k], tensors[k]) for k in tensors):
        raise RuntimeError(f"{args.output} does not read back as the tensors written")
    print(f"wheel   sha256 {wheel_sha256}")
    print(f"written sha256 {_sha256(args.output)}  {args.output} ({len(tensors)} tensors)")


if __name__ == "__main__":
    main()
