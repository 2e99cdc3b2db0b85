#!/usr/bin/env python3
"""Writes a small OCI image (an image layout directory, or a `docker save` tarball) from
directory trees or entry lists, without Docker. The tests and the demo make their templates'
images with it; it follows the OCI image-spec (image-layout, manifest, config) and the legacy
`docker save` format (manifest.json + <config>.json + <n>/layer.tar).

  make-oci.py OUT --layer DIR [--layer-json FILE ...] [--env K=V ...] [--workdir D] [--user U]
              [--cmd JSON-LIST] [--docker-save] [--no-gzip] [--raw-config FILE]

--layer DIR       a layer holding the files of DIR (ownership made root's)
--layer-json FILE a layer from a JSON list of entries, for cases a tree cannot hold:
                  {"path": P, "type": "file"|"dir"|"symlink"|"hardlink"|"char"|"fifo",
                   "data": TEXT, "target": LINK, "mode": 420}
Layers are applied in the order given. Whiteouts are files named .wh.NAME or .wh..wh..opq.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def tar_from_dir(path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                full = os.path.join(root, name)
                info = t.gettarinfo(full, arcname=os.path.relpath(full, path))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if info.isreg():
                    with open(full, "rb") as f:
                        t.addfile(info, f)
                else:
                    t.addfile(info)
    return buf.getvalue()


def tar_from_entries(entries):
    buf = io.BytesIO()
    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            info = tarfile.TarInfo(e["path"])
            info.type = kinds[e.get("type", "file")]
            info.mode = e.get("mode", 0o755 if info.type == tarfile.DIRTYPE else 0o644)
            info.linkname = e.get("target", "")
            data = e.get("data", "").encode()
            if info.type == tarfile.REGTYPE:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                if info.type == tarfile.CHRTYPE:
                    info.devmajor, info.devminor = 1, 3
                t.addfile(info)
    return buf.getvalue()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layer", action="append", default=[], dest="layers", type=lambda p: ("dir", p))
    ap.add_argument("--layer-json", action="append", dest="layers", type=lambda p: ("json", p))
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--workdir", default="")
    ap.add_argument("--user", default="")
    ap.add_argument("--cmd", default=None)
    ap.add_argument("--docker-save", action="store_true")
    ap.add_argument("--no-gzip", action="store_true")
    ap.add_argument("--raw-config", default=None, help="use this file's bytes as the image config (tests of bad configs)")
    a = ap.parse_args()

    tars = []
    for kind, path in a.layers:
        if kind == "dir":
            tars.append(tar_from_dir(path))
        else:
            with open(path) as f:
                tars.append(tar_from_entries(json.load(f)))
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "WorkingDir": a.workdir, "User": a.user,
                   "Cmd": json.loads(a.cmd) if a.cmd else None},
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in tars]},
    }
    config_bytes = json.dumps(config).encode()
    if a.raw_config:
        with open(a.raw_config, "rb") as f:
            config_bytes = f.read()

    if a.docker_save:
        with tarfile.open(a.out, "w") as out:
            def add(name, data):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
            config_name = sha(config_bytes)[7:] + ".json"
            add(config_name, config_bytes)
            names = []
            for i, t in enumerate(tars):
                names.append(f"{i}/layer.tar")
                add(names[-1], t)
            add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": ["test:latest"], "Layers": names}]).encode())
        return

    blobs = os.path.join(a.out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = sha(data)
        with open(os.path.join(blobs, d[7:]), "wb") as f:
            f.write(data)
        return d

    layers = []
    for t in tars:
        data = t if a.no_gzip else gzip.compress(t, mtime=0)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("" if a.no_gzip else "+gzip"),
                       "digest": put(data), "size": len(data)})
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config_bytes), "size": len(config_bytes)},
                "layers": layers}
    mbytes = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                 "digest": put(mbytes), "size": len(mbytes),
                                                 "platform": {"architecture": "amd64", "os": "linux"}}]}
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    # Tests edit blobs by layer: print each layer's blob path, in order.
    for l in layers:
        print(os.path.join(blobs, l["digest"][7:]))


if __name__ == "__main__":
    sys.exit(main())
