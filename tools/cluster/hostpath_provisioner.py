"""The single-node cluster's dynamic volume provisioner: hostPath folders under the state dir.

tools/cluster/up.sh starts it as a host process beside the kubelet (and down.sh stops
it). It serves the StorageClass ``factoryos-hostpath`` (the node's default class):

- a Pending claim of that class gets a PersistentVolume made for it, a hostPath
  folder ``VOLUMES/<namespace>-<claim>-<uid>`` bound to the claim by ``claimRef``;
- a volume of ours whose claim is gone (phase Released) is deleted with its folder.

Folders are world-writable: ``fsGroup`` does not apply to hostPath volumes, and the
pods run as non-root users. It talks to the apiserver over HTTPS with the standard
library only (a bearer token and the cluster's CA), polling every second.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

STORAGE_CLASS = "factoryos-hostpath"
PROVISIONER = "factoryos.dev/hostpath"


class Api:
    """Just enough of the Kubernetes REST API: GET, POST and DELETE of JSON."""

    def __init__(self, server: str, token: str, ca_file: Path) -> None:
        if not server.startswith("https://"):
            raise ValueError(f"the apiserver's address must be https://..., not {server!r}")
        self.server = server.rstrip("/")
        self.token = token
        self.tls = ssl.create_default_context(cafile=str(ca_file))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        # The scheme is checked in __init__: https only.
        request = urllib.request.Request(self.server + path, data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=self.tls, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")


def volume_for(claim: dict[str, Any], folder: Path) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "hostPath": {"path": str(folder), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def provision(api: Api, volumes: Path) -> None:
    """One pass: a volume for each new claim of our class, release what is no longer claimed."""
    volumes_now = api.call("GET", "/api/v1/persistentvolumes")["items"]
    existing = {pv["metadata"]["name"]: pv for pv in volumes_now}
    for claim in api.call("GET", "/api/v1/persistentvolumeclaims")["items"]:
        meta, spec = claim["metadata"], claim["spec"]
        if spec.get("storageClassName") != STORAGE_CLASS or spec.get("volumeName"):
            continue
        if f"pvc-{meta['uid']}" in existing or meta.get("deletionTimestamp"):
            continue
        folder = volumes / f"{meta['namespace']}-{meta['name']}-{meta['uid']}"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o1777)
        api.call("POST", "/api/v1/persistentvolumes", volume_for(claim, folder))
        print(f"provisioned {folder.name}", flush=True)
    for name, pv in existing.items():
        ours = pv["metadata"].get("annotations", {}).get("pv.kubernetes.io/provisioned-by")
        if ours != PROVISIONER or pv.get("status", {}).get("phase") != "Released":
            continue
        folder = Path(pv["spec"]["hostPath"]["path"])
        if volumes in folder.parents:
            shutil.rmtree(folder, ignore_errors=True)
        api.call("DELETE", f"/api/v1/persistentvolumes/{name}")
        print(f"deleted {name} and {folder.name}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--ca-file", type=Path, required=True)
    parser.add_argument("--volumes", type=Path, required=True, help="where the folders go")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    api = Api(args.server, args.token_file.read_text().strip(), args.ca_file)
    args.volumes.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            provision(api, args.volumes)
        except (urllib.error.URLError, OSError, KeyError) as error:
            print(f"provisioner: {error}", file=sys.stderr, flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
