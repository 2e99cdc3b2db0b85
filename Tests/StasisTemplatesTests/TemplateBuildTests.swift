import Foundation
import StasisStore
import StasisStoreTestSupport
import Testing
@testable import StasisTemplates

/// Template builds from OCI images the test writes itself (Tools/oci/make-oci.py): the config
/// is recorded; bad input is refused naming the layer and entry, and leaves no image and no
/// template behind. Runs on the catalog engine of the run (STASIS_TEST_CATALOG=postgres too).
@Suite("Templates from OCI images")
struct TemplateBuildTests {
    final class Fixture {
        let path = NSTemporaryDirectory() + "tpl-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let templates: TemplateStore
        let oci: OCIImageFixture
        init() throws {
            templates = TemplateStore(store: try TestStores.create(at: path + "/s"), cacheDirectory: path + "/cache")
            oci = try OCIImageFixture()
        }
        deinit {
            oci.remove()
            try? FileManager.default.removeItem(atPath: path)
        }

        /// Builds and expects a refusal; checks that nothing was stored.
        func refused(_ image: String, _ name: String = "bad") throws -> TemplateError {
            var caught: TemplateError?
            do { _ = try templates.build(name, from: .oci(path: image)) } catch { caught = error }
            let error = try #require(caught, "the build of \(image) was not refused")
            #expect(try templates.store.catalog.images().isEmpty, "an image was stored for a refused build: \(error)")
            #expect(try templates.list().isEmpty)
            return error
        }
    }

    @Test("layout and docker-save tarball: config recorded; rm removes template and image")
    func builds() throws {
        let f = try Fixture()
        let base = try f.oci.tree("base", ["etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
                                           "etc/gone": "hidden by a whiteout\n", "data/old.txt": "from the lower layer\n"])
        let top = try f.oci.layerJSON("top", [["path": "etc/.wh.gone"], ["path": "data/.wh..wh..opq"],
                                              ["path": "data/new.txt", "data": "upper\n"], ["path": "app/hello.txt", "data": "hi\n"]])
        let (layout, _) = try f.oci.make("img", layers: [base, top], env: ["PATH=/usr/bin:/bin", "GREETING=hello there"],
                                        workdir: "/app", user: "app", cmd: ["python3", "-m", "http.server"])
        let r = try f.templates.build("py", from: .oci(path: layout))
        #expect(r.layers == 2)
        #expect(r.template.config.env == ["PATH=/usr/bin:/bin", "GREETING=hello there"])
        #expect(r.template.config.workingDir == "/app" && r.template.config.cmd == ["python3", "-m", "http.server"])
        #expect(r.template.config.user == "app" && r.template.config.uid == 1000 && r.template.config.gid == 1000)
        #expect(try f.templates.template("py") == r.template)
        #expect(try f.templates.store.catalog.image(r.template.imageID) != nil)

        let (tarball, _) = try f.oci.make("saved", layers: [base, top], env: ["A=1"], workdir: "/w", dockerSave: true)
        let saved = try f.templates.build("saved", from: .oci(path: tarball))
        #expect(saved.template.config.env == ["A=1"] && saved.template.config.workingDir == "/w")
        #expect(try f.templates.list().map(\.name) == ["py", "saved"])

        // The same name again is refused; nothing changes.
        #expect(throws: TemplateError.self) { try f.templates.build("py", from: .oci(path: layout)) }
        try f.templates.remove("py")
        #expect(try f.templates.list().map(\.name) == ["saved"])
        #expect(try f.templates.store.catalog.image(r.template.imageID) == nil)
        #expect(throws: TemplateError.self) { try f.templates.template("py") }
        #expect(throws: TemplateError.self) { try f.templates.build("Bad/Name", from: .oci(path: layout)) }
    }

    @Test("entries that are refused: '..', symlinks out of the root, paths through symlinks, device nodes")
    func badEntries() throws {
        let f = try Fixture()
        let cases: [(String, [[String: Any]], String)] = [
            ("dotdot", [["path": "ok.txt", "data": "x"], ["path": "../evil", "data": "x"]], "../evil"),
            ("escaping-link", [["path": "a", "type": "dir"], ["path": "a/up", "type": "symlink", "target": "../../../etc"]], "a/up"),
            ("absolute-escaping-link", [["path": "root-link", "type": "symlink", "target": "/../../etc/shadow"]], "root-link"),
            ("through-link", [["path": "l", "type": "symlink", "target": "/tmp"], ["path": "l/x", "data": "y"]], "l/x"),
            ("device", [["path": "dev/null", "type": "char"]], "dev/null"),
        ]
        for (name, entries, entry) in cases {
            let (image, _) = try f.oci.make(name, layers: [try f.oci.layerJSON(name, entries)])
            let error = try f.refused(image)
            guard case .badEntry(let layer, let e, _) = error else { Issue.record("\(name): \(error)"); continue }
            #expect(e == entry, "\(name): \(error)")
            #expect(layer.hasPrefix("0 (sha256:"), "\(name): \(error)")
            #expect(error.description.contains(entry))
        }
        // An absolute symlink that stays inside the root is fine (read from the template's root).
        let (fine, _) = try f.oci.make("inside", layers: [try f.oci.layerJSON("inside", [["path": "bin/sh", "type": "symlink", "target": "/bin/busybox"]])])
        _ = try f.templates.build("inside", from: .oci(path: fine))
    }

    @Test("damaged images: digest mismatch, missing layer, truncated tarball, config not JSON")
    func damagedImages() throws {
        let f = try Fixture()
        let tree = try f.oci.tree("t", ["hello.txt": String(repeating: "hello\n", count: 2000)])

        let (flipped, blobs) = try f.oci.make("flipped", layers: [tree])
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: blobs[0]))
        try h.seek(toOffset: 100)
        let byte = try h.read(upToCount: 1)![0]
        try h.seek(toOffset: 100)
        h.write(Data([byte ^ 0xff]))
        try h.close()
        guard case .digestMismatch(let layer, _, _) = try f.refused(flipped) else { Issue.record("flipped byte not refused as a digest mismatch"); return }
        #expect(layer.contains((blobs[0] as NSString).lastPathComponent))

        let (missing, missingBlobs) = try f.oci.make("missing", layers: [tree])
        try FileManager.default.removeItem(atPath: missingBlobs[0])
        let missingError = try f.refused(missing)
        guard case .badImage = missingError else { Issue.record("missing layer: \(missingError)"); return }
        #expect(missingError.description.contains("missing") && missingError.description.contains((missingBlobs[0] as NSString).lastPathComponent))

        let (tarball, _) = try f.oci.make("saved", layers: [tree], dockerSave: true)
        let size = try FileManager.default.attributesOfItem(atPath: tarball)[.size] as! Int
        #expect(truncate(tarball, off_t(size / 2)) == 0)
        guard case .truncated(let truncatedLayer, _) = try f.refused(tarball) else { Issue.record("truncated tarball not refused as truncated"); return }
        #expect(truncatedLayer.contains("saved.tar"))

        let notJSON = f.oci.directory + "/config.txt"
        try "this is { not json".write(toFile: notJSON, atomically: false, encoding: .utf8)
        let (badConfig, _) = try f.oci.make("badconfig", layers: [tree], rawConfig: notJSON)
        guard case .badConfig(let source, let message) = try f.refused(badConfig) else { Issue.record("a config that is not JSON was not refused"); return }
        #expect(source.hasPrefix("sha256:") && message.contains("not JSON"))
    }
}
