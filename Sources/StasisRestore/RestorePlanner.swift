import Foundation
import StasisSandbox
import StasisSessions
import StasisStore

/// Turns a checkpoint id into a restore plan: resolves the checkpoint's images and blobs, finds
/// for each image the nearest ancestor already materialized on this host, lays out a fresh
/// sandbox directory and lists the isolation checks.
public struct RestorePlanner: Sendable {
    public let sessions: SessionStore
    public let sandboxesDirectory: String

    public init(sessions: SessionStore, sandboxesDirectory: String) {
        self.sessions = sessions
        self.sandboxesDirectory = sandboxesDirectory
    }

    /// `withSources` works out where each image's packs come from (for `restore plan`; it loads
    /// the chunk index).
    /// `lazyMemory` serves the memory image on first touch instead of writing it first (disks
    /// are written in either case).
    public func plan(_ checkpointIDOrPrefix: String, accelerator: String, directory: String? = nil,
                     withSources: Bool = false, lazyMemory: Bool = false) throws(SandboxError) -> RestorePlan {
        // The catalog is not trusted: the record must hash to its id and carry a valid signature,
        // and everything it names must be there, before anything is planned from it. (Ancestors,
        // below, only offer bases; a base is used chunk by chunk where its manifest equals this
        // record's, and is itself a sealed file, so a forged ancestor cannot change the result.)
        let checkpoint: Checkpoint
        do { checkpoint = try sessions.verifiedCheckpoint(checkpointIDOrPrefix) } catch {
            switch error {
            case .notChecked(let cause): throw .store(cause.description, cause: cause)
            case .damaged: throw .inconsistent(error.description)
            }
        }
        let record = checkpoint.record
        guard record.images["memory"] != nil, record.blobs["state"] != nil, record.blobs["config"] != nil else {
            throw .badArgument("checkpoint \(checkpoint.id) holds no VM (it needs a memory image and the state and config blobs); it was made from files, not from a sandbox")
        }
        guard let configBytes = try? sessions.store.blob(record.blobs["config"]!), let previous = SandboxSpec.decode(Data(configBytes)) else {
            throw .inconsistent("the config blob of checkpoint \(checkpoint.id) is not a sandbox description")
        }
        var spec = previous
        spec.renewIdentity()
        let dir = SandboxDirectory(path: directory ?? sandboxesDirectory + "/" + spec.id)
        let cache = BaseCache(store: sessions.store)
        let ancestors = ancestry(of: checkpoint)

        var images: [RestorePlan.Image] = []
        for (name, imageID) in record.images.sorted(by: { $0.key < $1.key }) {
            let file = name == "memory" ? dir.memory : dir.disk(String(name.dropFirst("disk:".count)))
            let manifest: ImageManifest
            do { manifest = try sessions.store.manifest(of: imageID) } catch { throw .store(error.description, cause: error) }
            let lazy = lazyMemory && name == "memory"
            // Nearest ancestor (including this checkpoint) whose same-named image is on this host.
            var base: (image: String, checkpoint: String, manifest: ImageManifest)?
            for a in ancestors where !lazy {
                if let candidate = a.record.images[name], cache.contains(candidate),
                   let m = try? sessions.store.manifest(of: candidate), m.imageSize == manifest.imageSize, m.chunkSize == manifest.chunkSize {
                    base = (candidate, a.id, m)
                    break
                }
            }
            var chunks = 0, bytes: Int64 = 0
            for (i, c) in manifest.chunks.enumerated() {
                guard let c, base?.manifest.chunks[i] != c else { continue }
                chunks += 1
                bytes += Int64(manifest.length(ofChunk: i))
            }
            var sources: PackSources?
            if withSources {
                do { sources = try sessions.store.packSources(of: imageID, baseImage: base?.image) } catch { throw .store(error.description, cause: error) }
            }
            // Only the catalog row: the blob is read (and verified) by the page server.
            let order = lazy ? (try? sessions.accessOrderRow(checkpoint: checkpoint.id, image: imageID)) ?? nil : nil
            images.append(RestorePlan.Image(name: name, image: imageID, file: file, size: manifest.imageSize, dataBytes: manifest.dataBytes,
                                            base: base?.image, baseCheckpoint: base?.checkpoint, chunksToWrite: chunks, bytesToWrite: bytes,
                                            packs: sources.map { $0.cachedPacks + $0.wholePacks + $0.rangedPacks } ?? 0, sources: sources, writable: true,
                                            lazy: lazy, recordedOrderChunks: order?.chunks, recordedOrderBlob: order?.blob))
        }
        var blobs: [RestorePlan.Blob] = []
        for (name, blobID) in record.blobs.sorted(by: { $0.key < $1.key }) {
            let file: String
            switch name {
            case "state": file = dir.state
            case "kernel": file = dir.kernel
            case "initrd": file = dir.initrd
            case "config": file = dir.spec
            default: file = dir.path + "/blob-" + name
            }
            blobs.append(RestorePlan.Blob(name: name, blob: blobID, file: file, writable: name == "config"))
        }
        let checks = [
            "the sandbox directory \(dir.path) does not exist yet, and is created empty",
            "every file in it is a private copy (one link, not shared with the store, a base or another sandbox); writable: guest memory and disks"
                + (lazyMemory ? " (lazy memory: a FUSE file over guest.mem backed by a private overlay guest.mem.overlay)" : ""),
            "kernel, initrd and device state are read-only (mode 0444)",
            "the checkpoint record hashes to its id and its signature verifies with the store's key (or the key its session was imported with); its references and image sizes match the catalog",
            "memory, disks and device state are the checkpoint's: each image materialized from the image id its record names, chunk by chunk verified, sizes equal to the manifests; state.bin hashes to the record's state blob id",
            "cached bases and the shared kernel and initrd are used only while their seals (inode, size, change time, HMAC with the host's seal key) match: checked before and after they are read",
            "QMP, agent and console sockets are new paths inside the new directory; nothing listens there yet",
            "new sandbox id, MAC, vsock CID and machine id, all different from the checkpoint's sandbox",
        ]
        let identity = RestorePlan.Identity(sandbox: spec.id, mac: spec.mac, vsockCID: spec.vsockCID, machineID: spec.machineID)
        let old = RestorePlan.Identity(sandbox: previous.id, mac: previous.mac, vsockCID: previous.vsockCID, machineID: previous.machineID)
        return RestorePlan(checkpoint: checkpoint.id, session: record.session, directory: dir.path, images: images, blobs: blobs,
                           identity: identity, previousIdentity: old, accelerator: accelerator, isolationChecks: checks)
    }

    /// The checkpoint and its ancestors, nearest first.
    func ancestry(of checkpoint: Checkpoint) -> [Checkpoint] {
        var chain = [checkpoint]
        var seen: Set<String> = [checkpoint.id]
        while let parent = chain.last?.record.parent, !seen.contains(parent), let c = try? sessions.checkpoint(parent) {
            chain.append(c)
            seen.insert(parent)
        }
        return chain
    }
}
