"""Write a one-layer OCI image archive from files, with no build engine and no registry.

tools/cluster/up.sh makes the node's sandbox (pause) image with it and imports the
archive with ``ctr images import``:

    python3 tools/cluster/oci_archive.py OUT.tar NAME:TAG --entrypoint /pause SRC=/pause ...

Each ``SRC=DEST`` copies the host file SRC into the image at DEST (mode kept, owner
root). The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...)
whose index names the image, so the import tags it. Same inputs, same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from pathlib import Path

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"


def layer_bytes(files: list[tuple[Path, str]]) -> bytes:
    """An uncompressed tar holding each host file at its image path."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for source, dest in files:
            info = layer.gettarinfo(str(source), arcname=dest.lstrip("/"))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            with source.open("rb") as data:
                layer.addfile(info, data)
    return buffer.getvalue()


def blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def archive(out: Path, name: str, entrypoint: list[str], files: list[tuple[Path, str]]) -> None:
    layer_digest, layer = blob(layer_bytes(files))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_digest, config_data = blob(json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config_data)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": len(layer)}],
    }
    manifest_digest, manifest_data = blob(json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MEDIA_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_data),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    entries = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
    }
    for digest, data in ((layer_digest, layer), (config_digest, config_data)):
        entries[f"blobs/sha256/{digest.removeprefix('sha256:')}"] = data
    entries[f"blobs/sha256/{manifest_digest.removeprefix('sha256:')}"] = manifest_data
    with tarfile.open(out, mode="w") as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("name", help="the image's name and tag, e.g. factoryos.local/pause:1")
    parser.add_argument("--entrypoint", action="append", default=[])
    parser.add_argument("files", nargs="+", metavar="SRC=DEST")
    args = parser.parse_args()
    files = [(Path(src), dest) for src, dest in (f.split("=", 1) for f in args.files)]
    archive(args.out, args.name, args.entrypoint, files)


if __name__ == "__main__":
    main()
